// The version is set in one place, package.json; this writes it where the other packages need it:
// the Python client (its pyproject.toml and prompt_registry/_version.py) and the npm packages
// (packages/*/package.json, whose dependency ranges it also takes from the root's, so one
// `npm ci` tests what they install). test/unit/versions.test.ts fails when they differ.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { version } = rootPackage;
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

const packages = readdirSync(join(root, 'packages')).map((name) => `packages/${name}/package.json`);
for (const file of packages) {
  const path = join(root, file);
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  manifest.version = version;
  for (const field of ['dependencies', 'optionalDependencies']) {
    for (const name of Object.keys(manifest[field] ?? {})) {
      const range = rootPackage.dependencies[name];
      if (!range) throw new Error(`${file}: ${name} is not a dependency of the root package.json, which the repository installs and tests`);
      manifest[field][name] = range;
    }
  }
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n');
}
process.stdout.write(`version ${version} written to ${[...targets.map(([f]) => f), ...packages].join(', ')}\n`);
