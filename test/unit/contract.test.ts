import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONTRACT_COMMAND, CONTRACT_FILE, generateContract } from '../../scripts/generate-contract.js';

describe('shared/contract/api.gen.ts', () => {
  it('is what the server declares today (regenerated in memory and compared)', async () => {
    const fresh = await generateContract();
    const checkedIn = readFileSync(CONTRACT_FILE, 'utf8');
    assert.ok(fresh.includes('Version: {') && fresh.includes('"/prompts/{name}/versions"'), 'the generated types name the schemas and the paths');
    assert.ok(checkedIn === fresh, `shared/contract/api.gen.ts is stale: the server's zod declarations changed since it was generated. Run \`${CONTRACT_COMMAND}\` and commit the result.`);
  });
});
