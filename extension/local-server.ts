import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
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

/** Raised when the bundled registry can't start; the message says what to do. */
export class LocalServerError extends Error {}

interface Abi {
  modules: string;
  node: string;
}

/**
 * The bundled registry on SQLite, in a child process (a crash can't take the
 * editor down), under a Node.js whose ABI matches the better-sqlite3 binary
 * shipped with it. Its log goes to an Output channel.
 */
export class LocalServer implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private readonly exited = new vscode.EventEmitter<number | null>();
  /** Fires when the server stops on its own. */
  readonly onDidExit = this.exited.event;

  constructor(
    private readonly extensionPath: string,
    private readonly storagePath: string,
    private readonly output: vscode.OutputChannel,
  ) {}

  private get script(): string {
    return join(this.extensionPath, 'dist', 'bundled-server', 'cli.mjs');
  }

  /** Checks the Node.js to use against the ABI the bundle was built for. */
  checkNode(nodePath: string): string {
    const node = nodePath || 'node';
    const wanted = JSON.parse(readFileSync(join(this.extensionPath, 'dist', 'bundled-server', 'abi.json'), 'utf8')) as Abi;
    const probe = spawnSync(node, ['-p', 'process.versions.modules + " " + process.version'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.error || probe.status !== 0) {
      throw new LocalServerError(
        `The bundled Prompt Registry needs Node.js ${wanted.node.split('.')[0]} to run, and "${node}" could not be run` +
          ` (${probe.error?.message ?? probe.stderr.trim()}). Install Node.js ${wanted.node.split('.')[0]}, or set "promptRegistry.nodePath" to it, or set "promptRegistry.serverUrl" to a running registry.`,
      );
    }
    const [modules, version] = probe.stdout.trim().split(' ');
    if (modules !== wanted.modules) {
      throw new LocalServerError(
        `The bundled Prompt Registry was built for Node.js ${wanted.node} (ABI ${wanted.modules}), but "${node}" is ${version} (ABI ${modules}).` +
          ` Set "promptRegistry.nodePath" to a Node.js ${wanted.node.split('.')[0]} binary, or set "promptRegistry.serverUrl" to a running registry.`,
      );
    }
    return node;
  }

  /** Starts the server on a free loopback port and answers its URL. */
  async start(nodePath: string, adminKey: string): Promise<string> {
    if (!existsSync(this.script)) throw new LocalServerError(`The bundled registry is missing (${this.script}): reinstall the extension, or run "npm run build:extension".`);
    const node = this.checkNode(nodePath);
    mkdirSync(this.storagePath, { recursive: true });
    const db = `sqlite:${join(this.storagePath, 'registry.db')}`;
    this.output.appendLine(`starting the bundled registry: ${node} ${this.script} serve --db ${db}`);
    // --data-dir: the server secret its key hashes are keyed with lives beside the database it belongs to.
    const child = spawn(node, [this.script, 'serve', '--port', '0', '--host', '127.0.0.1', '--db', db, '--data-dir', this.storagePath, '--no-log-requests'], {
      // The key is named after you: it is what created_by and deployed_by record.
      env: { ...process.env, PROMPT_REGISTRY_ADMIN_KEY: adminKey, PROMPT_REGISTRY_ADMIN_KEY_NAME: userName(), PROMPT_REGISTRY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    return new Promise<string>((resolve, reject) => {
      let ready = false;
      let tail = '';
      const onLine = (line: string) => {
        this.output.appendLine(line);
        tail = (tail + line + '\n').slice(-2_000);
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
        if (!ready) reject(new LocalServerError(`The bundled registry could not start: ${err.message}`));
      });
      child.on('exit', (code) => {
        this.output.appendLine(`the bundled registry exited (code ${code})`);
        if (this.child === child) this.child = undefined;
        if (!ready) reject(new LocalServerError(`The bundled registry stopped while starting (code ${code}). Its log:\n${tail}`));
        else this.exited.fire(code);
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
