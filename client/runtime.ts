/**
 * What the client takes from its runtime beyond `fetch`, looked up where it is used instead of
 * imported: no `node:` import, so one build runs in Node.js, Deno, Bun, browsers and edge
 * runtimes, and no bundler has to resolve a Node.js module for a browser.
 */
import type * as fs from 'node:fs';
import type * as http from 'node:http';
import type * as https from 'node:https';

interface NodeBuiltins {
  'node:fs': typeof fs;
  'node:http': typeof http;
  'node:https': typeof https;
}

interface NodeLikeProcess {
  getBuiltinModule?(id: string): unknown;
  once?(event: 'beforeExit', listener: () => void): unknown;
  off?(event: 'beforeExit', listener: () => void): unknown;
}

/** The runtime's `process` where it has one (Node.js, Bun, Deno), else undefined. */
export function nodeProcess(): NodeLikeProcess | undefined {
  return (globalThis as { process?: NodeLikeProcess }).process;
}

/** A Node.js built-in module (Node.js 20.16+ and 22.3+, Bun, Deno); undefined in browsers and edge runtimes. */
export function nodeBuiltin<K extends keyof NodeBuiltins>(id: K): NodeBuiltins[K] | undefined {
  return nodeProcess()?.getBuiltinModule?.(id) as NodeBuiltins[K] | undefined;
}

/** Lets a Node.js timer not keep the process alive; other runtimes' timers have no such notion. */
export function unrefTimer(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}

/** A random (version 4) UUID, from Web Crypto wherever there is one (Node.js 19+, browsers, Deno, Bun, edge). */
export function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?(): string; getRandomValues?(bytes: Uint8Array): Uint8Array } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  // Pages served over plain http have getRandomValues but not randomUUID; Node.js 18 has neither globally.
  const bytes = new Uint8Array(16);
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The UTF-8 text of base64url `data` (JWT segments), with the runtime's atob. */
export function decodeBase64Url(data: string): string {
  const base64 = data.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (data.length % 4)) % 4);
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}
