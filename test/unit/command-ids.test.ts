import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COMMANDS, INTERNAL_COMMANDS } from '../../extension/commands/ids.js';

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  contributes: { commands: Array<{ command: string }>; menus: Record<string, Array<{ command?: string }>> };
};

describe('the command-id table (extension/commands/ids.ts)', () => {
  const table = new Set<string>(Object.values(COMMANDS));

  it('declares every command of package.json, and package.json every command of the table but the internal ones', () => {
    const contributed = new Set(manifest.contributes.commands.map((c) => c.command));
    assert.deepEqual([...contributed].filter((id) => !table.has(id)), [], 'in package.json, missing from COMMANDS');
    const internal = new Set<string>(INTERNAL_COMMANDS);
    assert.deepEqual([...table].filter((id) => !contributed.has(id) && !internal.has(id)), [], 'in COMMANDS, missing from package.json');
  });

  it('names only commands of the table in the menus', () => {
    const inMenus = Object.values(manifest.contributes.menus).flatMap((entries) => entries.map((e) => e.command).filter((c): c is string => Boolean(c)));
    assert.deepEqual(inMenus.filter((id) => !table.has(id)), []);
  });

  it('keys each id by its own name', () => {
    for (const [key, id] of Object.entries(COMMANDS)) assert.equal(id, `promptRegistry.${key}`);
  });
});
