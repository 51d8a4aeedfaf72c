/**
 * The folder side: finds and reads `.prompt` files, and writes them. A file's
 * registry name is its front matter `name`, else its path with `/` as `.`
 * (`support/reply.prompt` is `support.reply`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { readPromptText, type FileProblem } from './format.js';
import type { LocalPrompt } from './plan.js';

/** Where pull writes a prompt that no file of the folder declares yet. */
export type Layout = 'flat' | 'nested';
export const LAYOUTS: readonly Layout[] = ['flat', 'nested'];

/** A folder that cannot be synced as it is; the message names every bad file and line. */
export class FolderError extends Error {
  constructor(readonly problems: Array<{ path: string } & FileProblem>) {
    super(`${problems.length === 1 ? 'a .prompt file is' : `${problems.length} problems in .prompt files;`} not valid, nothing was done:\n${problems.map((p) => `  ${p.path}:${p.line}: ${p.message}`).join('\n')}`);
    this.name = 'FolderError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Every `.prompt` file under dir (dot-folders and node_modules skipped), relative with `/`, sorted. */
export function findPromptFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.prompt')) found.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return found.sort();
}

/** The registry name a path gives a file without a front matter name. */
export function nameFromPath(path: string): string {
  return path.replace(/\.prompt$/, '').split('/').join('.');
}

/** The path pull gives a prompt no file declares. */
export function pathForName(name: string, layout: Layout): string {
  return layout === 'nested' ? `${name.split('.').filter(Boolean).join('/')}.prompt` : `${name}.prompt`;
}

/**
 * Reads and checks every file of the folder; any problem (unparsable, invalid
 * settings, a template error, a name twice) throws a FolderError naming them all.
 */
export function readFolder(dir: string): LocalPrompt[] {
  const problems: Array<{ path: string } & FileProblem> = [];
  const prompts: LocalPrompt[] = [];
  const seen = new Map<string, string>();
  for (const path of findPromptFiles(dir)) {
    const read = readPromptText(readFileSync(join(dir, path), 'utf8'));
    if (!read.ok) {
      problems.push(...read.problems.map((p) => ({ path, ...p })));
      continue;
    }
    const name = read.name ?? nameFromPath(path);
    if (!NAME.test(name) || name.length > 255) {
      problems.push({ path, line: 1, message: `"${name}" is not a prompt name: give one in the front matter (name: ...), letters, digits, '.', '_' and '-'` });
      continue;
    }
    const other = seen.get(name);
    if (other) {
      problems.push({ path, line: 1, message: `prompt "${name}" is also in ${other}` });
      continue;
    }
    seen.set(name, path);
    prompts.push({ name, path, fields: read.fields, samples: read.samples, includes: read.includes });
  }
  if (problems.length) throw new FolderError(problems);
  return prompts;
}

/** Writes a file whole (beside, then renamed): a reader never sees half of it. Answers false when it already had this text. */
export function writePromptFile(dir: string, path: string, text: string): boolean {
  const full = join(dir, ...path.split('/'));
  if (existsSync(full) && readFileSync(full, 'utf8') === text) return false;
  mkdirSync(dirname(full), { recursive: true });
  const tmp = `${full}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, full);
  return true;
}
