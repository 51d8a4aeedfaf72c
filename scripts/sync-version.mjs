// The version is set in one place, package.json; this writes it where the Python client needs it
// (its pyproject.toml and prompt_registry/_version.py). test/unit/versions.test.ts fails when they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const targets = [
  ['python/pyproject.toml', /^version = "[^"]*"$/m, `version = "${version}"`],
  ['python/prompt_registry/_version.py', /^__version__ = "[^"]*"$/m, `__version__ = "${version}"`],
];
for (const [file, pattern, line] of targets) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  if (!pattern.test(text)) throw new Error(`${file}: no version line to update`);
  writeFileSync(path, text.replace(pattern, line));
}
process.stdout.write(`version ${version} written to ${targets.map(([f]) => f).join(', ')}\n`);
