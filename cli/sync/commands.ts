/**
 * `push`, `pull` and `diff`: client commands that reach a registry with
 * `--url`/`--api-key` or PROMPT_REGISTRY_URL/PROMPT_REGISTRY_API_KEY. They
 * never open a database. Exit codes: 0 done (diff: no changes), 2 diff found
 * changes, 1 an error (a bad file, an unreachable registry, a refused credential).
 */
import { Command, Option } from 'commander';
import { RegistryApi } from '../../client/index.js';
import { findPromptFiles, LAYOUTS, type Layout } from './folder.js';
import { describePlan } from './plan.js';
import { diff, pull, push, type PushedPrompt } from './sync.js';

interface Connection {
  url?: string;
  apiKey?: string;
}

/** The registry the flags (else the environment) name; a missing one is an error that says how to give it. */
export function connect(flags: Connection, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): RegistryApi {
  const url = flags.url ?? env.PROMPT_REGISTRY_URL;
  const apiKey = flags.apiKey ?? env.PROMPT_REGISTRY_API_KEY;
  if (!url) throw new Error('no registry: give --url or set PROMPT_REGISTRY_URL');
  if (!/^https?:\/\//.test(url)) throw new Error(`--url "${url}" is not an http(s) address`);
  if (!apiKey) throw new Error('no credential: give --api-key or set PROMPT_REGISTRY_API_KEY');
  return new RegistryApi({ url, apiKey, timeoutMs });
}

const withConnection = (command: Command) =>
  command
    .option('--url <url>', 'the registry (default PROMPT_REGISTRY_URL)')
    .option('--api-key <key>', 'an API key (default PROMPT_REGISTRY_API_KEY); diff and pull need read, push write (and deploy to deploy)')
    .option('--json', 'print JSON');

/** A folder without a single .prompt file is likely a wrong path: say so (on stderr; the command goes on). */
function warnIfEmpty(dir: string): void {
  if (findPromptFiles(dir).length === 0) process.stderr.write(`prompt-registry: no .prompt files under ${dir}\n`);
}

const out = (text: string): void => {
  process.stdout.write(text);
};

function describePush(p: PushedPrompt): string {
  const did = { created_prompt: `created with v${p.version}`, created_version: `created v${p.version}`, updated_prompt: `description/tags updated (v${p.version})`, none: `unchanged (v${p.version})` }[p.action];
  const deploy = !p.deploy
    ? ''
    : p.deploy.status === 'pending_approval'
      ? `; deploy to ${p.deploy.environment} awaits approval (request ${p.deploy.request_id})`
      : p.deploy.status === 'deployed'
        ? `; deployed to ${p.deploy.environment}`
        : `; already live in ${p.deploy.environment}`;
  return `${p.name.padEnd(24)} ${did}${deploy} (${p.path})\n`;
}

/** The commands, for server/cli.ts to add to the program. */
export function syncCommands(): Command[] {
  const diffCommand = withConnection(
    new Command('diff')
      .description('Compare a folder of .prompt files with the registry: new prompts, new versions, unchanged, only in the registry. Exits 2 when a push would change something, 0 when not, 1 on error')
      .argument('<dir>', 'the folder of .prompt files'),
  ).action(async (dir: string, flags: Connection & { json?: boolean }) => {
    const api = connect(flags);
    warnIfEmpty(dir);
    const plan = await diff(api, dir);
    out(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : describePlan(plan));
    if (plan.changed) process.exitCode = 2;
  });

  const pushCommand = withConnection(
    new Command('push')
      .description('Publish a folder of .prompt files: a version for each file that differs from every version of its prompt (a second push creates nothing). Every file is checked first: one invalid file and nothing is pushed')
      .argument('<dir>', 'the folder of .prompt files')
      .option('--deploy <env>', "also make each file's version live in this environment")
      .option('--message <msg>', 'the message of the versions created (and the comment of the deploys)'),
  ).action(async (dir: string, flags: Connection & { json?: boolean; deploy?: string; message?: string }) => {
    const api = connect(flags);
    warnIfEmpty(dir);
    const result = await push(api, dir, { deploy: flags.deploy, message: flags.message });
    if (flags.json) return out(`${JSON.stringify(result, null, 2)}\n`);
    for (const p of result.prompts) out(describePush(p));
    const count = (f: (p: PushedPrompt) => boolean) => result.prompts.filter(f).length;
    const deployed = flags.deploy ? `, ${count((p) => p.deploy?.status === 'deployed')} deployed to ${flags.deploy}, ${count((p) => p.deploy?.status === 'pending_approval')} awaiting approval` : '';
    out(
      result.changed
        ? `${count((p) => p.action.startsWith('created'))} created, ${count((p) => p.action === 'updated_prompt')} updated, ${count((p) => p.action === 'none')} unchanged${deployed}\n`
        : `nothing to push: the registry has all ${result.prompts.length} prompts${flags.deploy ? ` and they are live in ${flags.deploy}` : ''}\n`,
    );
  });

  const pullCommand = withConnection(
    new Command('pull')
      .description("Write the registry's prompts into a folder as .prompt files: the latest versions, or those live in --environment. A prompt goes to the file that declares it, else to its layout's path")
      .argument('<dir>', 'the folder to write to (created when missing)')
      .option('--environment <env>', 'write the versions live in this environment (prompts with nothing live there are left out)')
      .addOption(new Option('--layout <layout>', "where new files go: flat (support.reply.prompt) or nested (support/reply.prompt)").choices(LAYOUTS).default('flat')),
  ).action(async (dir: string, flags: Connection & { json?: boolean; environment?: string; layout: Layout }) => {
    const result = await pull(connect(flags), dir, { environment: flags.environment, layout: flags.layout });
    if (flags.json) return out(`${JSON.stringify(result, null, 2)}\n`);
    for (const p of result.prompts) out(`${p.name.padEnd(24)} v${p.version} ${p.written ? 'written to' : 'already in'} ${p.path}\n`);
    for (const k of result.skipped) out(`${k.name.padEnd(24)} v${k.version} not written: a .prompt file cannot hold it (${k.reason})\n`);
    for (const f of result.folder_only) out(`${f.name.padEnd(24)} not in the registry${flags.environment ? ` (or not live in ${flags.environment})` : ''}: ${f.path} left as it is\n`);
    out(`${result.prompts.filter((p) => p.written).length} written, ${result.prompts.filter((p) => !p.written).length} already up to date\n`);
  });

  return [diffCommand, pushCommand, pullCommand];
}
