import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, statfsSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';

function userName(): string {
  try {
    return userInfo().username || 'me';
  } catch {
    return 'me';
  }
}

/** What went wrong when the bundled registry could not start, so the editor can offer the right way out. */
export type LocalServerFault =
  /** No runtime that can run it: the setting points nowhere, or the runtime lacks what the server needs. */
  | 'runtime'
  /** The data folder or the database file cannot be written. */
  | 'read-only'
  /** No space left where the database lives. */
  | 'disk-full'
  /** The database was made by a newer Prompt Registry than this one. */
  | 'newer-schema'
  /** Anything else: the log says what. */
  | 'failed';

/** Raised when the bundled registry can't start; the message says what happened and what to do. */
export class LocalServerError extends Error {
  constructor(
    readonly fault: LocalServerFault,
    message: string,
    /** The data folder, for faults about the database. */
    readonly folder?: string,
  ) {
    super(message);
  }
}

/** The program that runs the bundled server, and how. */
export interface Runtime {
  command: string;
  env: Record<string, string>;
  /** For messages: where it came from. */
  describe: string;
  fromSetting: boolean;
}

/**
 * VS Code's own runtime unless `promptRegistry.nodePath` says otherwise: the
 * extension host's executable is Electron in desktop VS Code (which runs as
 * Node with ELECTRON_RUN_AS_NODE) and Node itself in code-server and remote
 * hosts (which ignore the variable). No `node` on PATH is needed.
 */
export function resolveRuntime(nodePath: string): Runtime {
  if (nodePath) return { command: nodePath, env: {}, describe: `"${nodePath}" (the promptRegistry.nodePath setting)`, fromSetting: true };
  return { command: process.execPath, env: { ELECTRON_RUN_AS_NODE: '1' }, describe: `VS Code's own runtime (${process.execPath})`, fromSetting: false };
}

/**
 * `node:sqlite` needs no flag from Node.js 22.13. VS Code 1.101 (Electron 35.5, Node.js 22.15) is the
 * first release whose runtime has it (1.100 ran Electron 34, Node.js 20.19); engines.vscode says so.
 * The probe still asks the runtime itself: Electron 37.2.0 shipped without the module (electron#47671).
 */
export const MIN_NODE = '22.13.0';
export const MIN_VSCODE = '1.101';

const atLeast = (version: string, min: string) => {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
};

interface Probe {
  node: string;
  sqlite: boolean;
}

const PROBE = "let s=false;try{require('node:sqlite');s=true}catch{}process.stdout.write(JSON.stringify({node:process.versions.node,sqlite:s}))";

/**
 * VS Code's own runtime is the one this extension host runs on: it answers for itself, with no
 * process started (isBuiltin, unlike require, loads nothing and prints no ExperimentalWarning).
 */
function thisRuntime(): Probe {
  return { node: process.versions.node, sqlite: isBuiltin('node:sqlite') };
}

/** Errors a file system call gives for a folder we may not write to. */
const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

function freeBytes(folder: string): number {
  try {
    const s = statfsSync(folder);
    return s.bavail * s.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Reads why a start failed from the server's last words: the CLI prints
 * `prompt-registry: MESSAGE`, SQLite's messages are stable text.
 */
export function classifyStartFailure(log: string): Exclude<LocalServerFault, 'runtime'> {
  if (/newer (version of )?Prompt Registry|schema version \d+ .*newer/i.test(log)) return 'newer-schema';
  if (/database or disk is full|ENOSPC|no space left on device|SQLITE_FULL/i.test(log)) return 'disk-full';
  if (/readonly database|read-only|EROFS|EACCES|EPERM|unable to open database file|SQLITE_READONLY|SQLITE_CANTOPEN/i.test(log)) return 'read-only';
  return 'failed';
}

/**
 * The bundled registry on SQLite, in a child process (a crash can't take the
 * editor down), on VS Code's own runtime. Its log goes to an Output channel.
 */
export class LocalServer implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private readonly exited = new vscode.EventEmitter<number | null>();
  /** Fires when the server stops on its own. */
  readonly onDidExit = this.exited.event;

  constructor(
    private readonly extensionPath: string,
    private readonly output: vscode.OutputChannel,
  ) {}

  private get script(): string {
    return join(this.extensionPath, 'dist', 'bundled-server', 'cli.mjs');
  }

  /** Checks that the runtime runs and has what the bundled server needs. */
  async checkRuntime(runtime: Runtime): Promise<Probe> {
    const probe = runtime.command === process.execPath ? { stdout: JSON.stringify(thisRuntime()), stderr: '' } : await this.probe(runtime);
    return this.judge(runtime, probe);
  }

  /** Asks another runtime (a `promptRegistry.nodePath`) what it is, in a process of its own. */
  private probe(runtime: Runtime): Promise<{ error?: Error; stdout: string; stderr: string }> {
    return new Promise<{ error?: Error; stdout: string; stderr: string }>((resolve) =>
      execFile(runtime.command, ['-e', PROBE], { env: { ...process.env, ...runtime.env }, timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => resolve({ error: error ?? undefined, stdout, stderr })),
    );
  }

  private judge(runtime: Runtime, probe: { error?: Error; stdout: string; stderr: string }): Probe {
    const fix = runtime.fromSetting
      ? `Point "promptRegistry.nodePath" at a Node.js ${MIN_NODE} or later, or clear it to use VS Code's own runtime.`
      : `Update VS Code to ${MIN_VSCODE} or later, or set "promptRegistry.nodePath" to a Node.js ${MIN_NODE} or later.`;
    let result: Probe | undefined;
    try {
      result = probe.error ? undefined : (JSON.parse(probe.stdout) as Probe);
    } catch {
      result = undefined;
    }
    if (!result) {
      const why = (probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'no such program' : (probe.stderr.trim() || probe.error?.message || 'no answer').slice(0, 300);
      throw new LocalServerError('runtime', `The local Prompt Registry could not start: ${runtime.describe} could not be run (${why}). ${fix} Or set "promptRegistry.serverUrl" to a running registry.`);
    }
    if (!result.sqlite || !atLeast(result.node, MIN_NODE)) {
      throw new LocalServerError(
        'runtime',
        `The local Prompt Registry needs Node.js ${MIN_NODE} or later (its built-in SQLite), and ${runtime.describe} is Node.js ${result.node}${result.sqlite ? '' : ' without node:sqlite'}. ${fix}`,
      );
    }
    return result;
  }

  /** Fails with a clear message when the data folder (or the database in it) cannot be written. */
  private checkFolder(folder: string, db: string): void {
    try {
      mkdirSync(folder, { recursive: true });
      accessSync(folder, constants.W_OK);
      if (existsSync(db)) accessSync(db, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOSPC') throw this.fault('disk-full', folder, db, (err as Error).message);
      if (READ_ONLY.has(code) || code === 'ENOTDIR' || code === 'EEXIST') throw this.fault('read-only', folder, db, (err as Error).message);
      throw err;
    }
  }

  /** The message for a fault of the data folder: what happened, where, what to do; the prompts are never touched. */
  fault(kind: Exclude<LocalServerFault, 'runtime'>, folder: string, db: string, detail: string): LocalServerError {
    const messages: Record<typeof kind, string> = {
      'read-only': `The local Prompt Registry cannot write to its data folder ${folder}, so it did not start. Make the folder writable, or set "promptRegistry.localDataFolder" to a folder you can write to, then Retry. Your prompts in ${db} are untouched.`,
      'disk-full': `The disk holding the local Prompt Registry's data folder ${folder} is full, so it did not start. Free some space there, or set "promptRegistry.localDataFolder" to a folder on another disk, then Retry. Your prompts in ${db} are untouched.`,
      'newer-schema': `The local Prompt Registry's database ${db} was written by a newer version of the Prompt Registry extension (${detail}). The local registry did not start, so as not to change it: update the extension, or set "promptRegistry.localDataFolder" to another folder. Your prompts in it are untouched.`,
      failed: `The local Prompt Registry stopped while starting (data folder ${folder}). Its log is in the "Prompt Registry Server" output: ${detail}`,
    };
    return new LocalServerError(kind, messages[kind], folder);
  }

  /** Starts the server on a free loopback port, with its database in `folder`, and answers its URL. */
  async start(runtime: Runtime, folder: string, adminKey: string): Promise<string> {
    if (!existsSync(this.script)) throw new LocalServerError('failed', `The bundled registry is missing (${this.script}): reinstall the extension, or run "npm run build:extension".`);
    const probe = await this.checkRuntime(runtime);
    const dbFile = join(folder, 'registry.db');
    this.checkFolder(folder, dbFile);
    const db = `sqlite:${dbFile}`;
    this.output.appendLine(`starting the bundled registry on ${runtime.describe}, Node.js ${probe.node}: ${this.script} serve --db ${db}`);
    // --data-dir: the server secret its key hashes are keyed with lives beside the database it belongs to.
    const child = spawn(runtime.command, [this.script, 'serve', '--port', '0', '--host', '127.0.0.1', '--db', db, '--data-dir', folder, '--no-log-requests'], {
      // The key is named after you: it is what created_by and deployed_by record.
      env: { ...process.env, ...runtime.env, PROMPT_REGISTRY_ADMIN_KEY: adminKey, PROMPT_REGISTRY_ADMIN_KEY_NAME: userName(), PROMPT_REGISTRY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    return new Promise<string>((resolve, reject) => {
      let ready = false;
      let tail = '';
      const onLine = (line: string) => {
        this.output.appendLine(line);
        tail = (tail + line + '\n').slice(-4_000);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (!ready && entry.msg === 'prompt registry listening' && entry.url) {
            ready = true;
            resolve(entry.url);
          }
        } catch {
          // not a JSON log line
        }
      };
      let buffered = '';
      const read = (chunk: Buffer) => {
        buffered += chunk.toString();
        let i: number;
        while ((i = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, i));
          buffered = buffered.slice(i + 1);
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.on('error', (err) => {
        if (!ready) reject(new LocalServerError('runtime', `The local Prompt Registry could not start: ${runtime.describe} could not be run (${err.message}).`));
      });
      child.on('exit', (code) => {
        if (buffered) onLine(buffered);
        this.output.appendLine(`the bundled registry exited (code ${code})`);
        if (this.child === child) this.child = undefined;
        if (ready) {
          this.exited.fire(code);
          return;
        }
        // The CLI's own last words ("prompt-registry: ...") say it best; else the log's last lines.
        const last = /prompt-registry: (.+)\s*$/.exec(tail)?.[1]?.trim() ?? tail.trim().split('\n').slice(-3).join(' ');
        // A full disk shows in SQLite as many things (disk I/O error, can't open): ask the disk too.
        const kind = classifyStartFailure(tail) === 'failed' && freeBytes(folder) < 1024 * 1024 ? 'disk-full' : classifyStartFailure(tail);
        const versions = /schema version (\d+)\D+?(\d+)/.exec(last);
        reject(this.fault(kind, folder, dbFile, kind === 'newer-schema' && versions ? `schema version ${versions[1]}; this one knows up to ${versions[2]}` : last));
      });
    });
  }

  /** Stops the server: SIGTERM, then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  dispose(): void {
    void this.stop();
    this.exited.dispose();
  }
}
