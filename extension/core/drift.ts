/**
 * Drift: how a `.prompt` file differs from a registry version, by the same
 * message-by-message and config-by-config comparison the compare panel shows.
 * Pure: no `vscode` import.
 */
import type { PromptFile, VersionShape } from '../../shared/prompt-files/prompt-file.js';
import { compareVersions, fileSide, versionSide } from './compare.js';
import { VERSION_DEFAULTS } from '../../shared/contract/defaults.js';

/** What the registry fills in for settings a create leaves out (server/prompts): a file without them is not different. */
const DEFAULTS = VERSION_DEFAULTS;

export type Drift =
  | { kind: 'same'; name: string; version: number }
  | { kind: 'differs'; name: string; version: number; messages: number; config: number }
  | { kind: 'new'; name: string };

/** How a file differs from a registry version: messages (or the text) and config values that differ. */
export function driftOf(file: PromptFile, name: string, latest: VersionShape & { version: number }): Drift {
  const withDefaults = { ...file, meta: { ...file.meta, config: { ...DEFAULTS, ...file.meta.config } } };
  const c = compareVersions(versionSide(`v${latest.version}`, latest), fileSide('file', withDefaults));
  return c.changes.messages || c.changes.config ? { kind: 'differs', name, version: latest.version, messages: c.changes.messages, config: c.changes.config } : { kind: 'same', name, version: latest.version };
}

