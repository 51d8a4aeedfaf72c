/**
 * The servers under test, each in its own process so the load generator
 * (autocannon, in the bench process) never shares their event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Child {
  name: string;
  url: string;
  /** Where its stdout and stderr go. */
  log: string;
  proc: ChildProcess;
  exited: Promise<void>;
}

const running = new Set<Child>();

/** Starts `node args...` with stdout and stderr to `log`. */
export function startChild(name: string, url: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; log: string }): Child {
  const fd = openSync(opts.log, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  proc.once('error', () => undefined); // reported through `exited` / the health check
  const child: Child = { name, url, log: opts.log, proc, exited };
  running.add(child);
  void exited.then(() => running.delete(child));
  return child;
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits until GET /healthz answers 200; fails if the process exits first or `timeoutMs` passes. */
export async function waitHealthy(child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited (code ${child.proc.exitCode}, signal ${child.proc.signalCode}) before it was healthy; its log:\n${tail(child.log)}`);
    try {
      const res = await fetch(`${child.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} was not healthy within ${timeoutMs} ms; its log:\n${tail(child.log)}`);
}

/** SIGTERM (a graceful stop), then SIGKILL after `graceMs`. Safe to call twice. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Stops every child still running (used in `finally` and on Ctrl-C). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => stopChild(c, 5_000)));
}
