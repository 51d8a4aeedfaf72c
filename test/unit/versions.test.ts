import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VERSION } from '../../server/version.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('one version for every part', () => {
  it('package.json sets it; the server reports it; the Python client carries the same (npm run version:sync)', () => {
    const { version } = JSON.parse(read('package.json')) as { version: string };
    assert.match(version, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
    assert.equal(VERSION, version);
    assert.equal(/^version = "([^"]*)"$/m.exec(read('python/pyproject.toml'))?.[1], version, 'python/pyproject.toml');
    assert.equal(/^__version__ = "([^"]*)"$/m.exec(read('python/prompt_registry/_version.py'))?.[1], version, 'prompt_registry/_version.py');
  });

  it('the npm packages (packages/*) carry the same version, and the root\'s range of each dependency (npm run version:sync)', () => {
    const root = JSON.parse(read('package.json')) as { version: string; dependencies: Record<string, string> };
    for (const name of ['client', 'server']) {
      const manifest = JSON.parse(read(`packages/${name}/package.json`)) as Record<string, unknown> & { version: string };
      assert.equal(manifest.version, root.version, `packages/${name}/package.json`);
      for (const field of ['dependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
          assert.equal(range, root.dependencies[dep], `packages/${name}/package.json ${field}.${dep}`);
        }
      }
    }
  });

  it('the CHANGELOG has a section for it', () => {
    const { version } = JSON.parse(read('package.json')) as { version: string };
    assert.match(read('CHANGELOG.md'), new RegExp(`^## ${version.replace(/\./g, '\\.')}\\b`, 'm'));
  });
});
