/**
 * Two versions of a prompt side by side: message by message (aligned, with a
 * line diff inside each changed message) and config value by config value.
 * Pure: no `vscode` import.
 */
import { isPlaceholder, type MessageItem } from '../../shared/prompt-files/chat-template.js';
import type { JsonSchema } from '../../shared/prompt-files/picoschema.js';
import type { VersionComparison as Comparison, ComparedMessage, ConfigRow, LineChange, MessageRow, Status } from '../../webview/protocol.js';
import { configOf, versionOf, type PromptConfig, type PromptFile, type VersionShape } from '../../shared/prompt-files/prompt-file.js';

export type { Comparison };

export interface CompareSide {
  /** What the column is: `v3`, `greeting.prompt`. */
  label: string;
  type: 'text' | 'chat';
  content: string | null;
  messages: MessageItem[] | null;
  config: PromptConfig;
  input_schema: JsonSchema | null;
}

function items(side: CompareSide): ComparedMessage[] {
  if (side.type === 'text' || !side.messages) return [{ role: 'text', content: side.content ?? '' }];
  return side.messages.map((m) => (isPlaceholder(m) ? { role: 'placeholder', content: `{{${m.name}}}` } : { role: m.role, content: m.content }));
}

/** Longest common subsequence of two lists by a key: the pairs of indexes kept, in order. */
function lcs<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  const table: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) table[i]![j] = same(a[i]!, b[j]!) ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
  }
  const pairs: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (same(a[i]!, b[j]!)) {
      pairs.push([i++, j++]);
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) i++;
    else j++;
  }
  return pairs;
}

export function diffLines(left: string, right: string): LineChange[] {
  const a = left.split('\n');
  const b = right.split('\n');
  const out: LineChange[] = [];
  let i = 0;
  let j = 0;
  for (const [pi, pj] of [...lcs(a, b, (x, y) => x === y), [a.length, b.length] as [number, number]]) {
    while (i < pi) out.push({ kind: 'removed', text: a[i++]! });
    while (j < pj) out.push({ kind: 'added', text: b[j++]! });
    if (pi < a.length) out.push({ kind: 'same', text: a[pi]! });
    i = pi + 1;
    j = pj + 1;
  }
  return out;
}

function compareMessages(left: ComparedMessage[], right: ComparedMessage[]): MessageRow[] {
  const rows: MessageRow[] = [];
  let i = 0;
  let j = 0;
  const flush = (toI: number, toJ: number) => {
    // Between two kept messages: pair removed and added ones of the same role as changed, in order.
    const removed = left.slice(i, toI);
    const added = right.slice(j, toJ);
    while (removed.length || added.length) {
      const l = removed[0];
      const r = added[0];
      if (l && r && l.role === r.role) {
        rows.push({ status: 'changed', left: l, right: r, lines: diffLines(l.content, r.content) });
        removed.shift();
        added.shift();
      } else if (l && (!r || !added.some((x) => x.role === l.role))) {
        rows.push({ status: 'removed', left: l, right: null, lines: null });
        removed.shift();
      } else {
        rows.push({ status: 'added', left: null, right: r!, lines: null });
        added.shift();
      }
    }
    i = toI;
    j = toJ;
  };
  for (const [pi, pj] of lcs(left, right, (x, y) => x.role === y.role && x.content === y.content)) {
    flush(pi, pj);
    rows.push({ status: 'same', left: left[pi]!, right: right[pj]!, lines: null });
    i = pi + 1;
    j = pj + 1;
  }
  flush(left.length, right.length);
  return rows;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** The configuration's values, the input schema and the type, as rows; unchanged ones too (marked same). */
function compareConfig(a: CompareSide, b: CompareSide): ConfigRow[] {
  const flat = (s: CompareSide): Map<string, unknown> => {
    const m = new Map<string, unknown>([['type', s.type]]);
    for (const [k, v] of Object.entries(s.config)) if (v !== undefined) m.set(k, v);
    if (s.input_schema) m.set('input_schema', s.input_schema);
    return m;
  };
  const left = flat(a);
  const right = flat(b);
  const keys = [...new Set([...left.keys(), ...right.keys()])];
  return keys.map((key) => {
    const l = left.has(key) ? show(left.get(key)) : null;
    const r = right.has(key) ? show(right.get(key)) : null;
    const status: Status = l === null ? 'added' : r === null ? 'removed' : l === r ? 'same' : 'changed';
    return { key, status, left: l, right: r };
  });
}

export function compareVersions(left: CompareSide, right: CompareSide): Comparison {
  const messages = compareMessages(items(left), items(right));
  const config = compareConfig(left, right);
  return {
    left: left.label,
    right: right.label,
    messages,
    config,
    changes: { messages: messages.filter((r) => r.status !== 'same').length, config: config.filter((r) => r.status !== 'same').length },
  };
}

/** A registry version as one side of a comparison. */
export function versionSide(label: string, v: VersionShape): CompareSide {
  const chat = v.type === 'chat' || Array.isArray(v.messages);
  return { label, type: chat ? 'chat' : 'text', content: chat ? null : (v.content ?? ''), messages: chat ? (v.messages ?? []) : null, config: configOf(v), input_schema: v.input_schema ?? null };
}

/** A `.prompt` file as one side of a comparison. */
export function fileSide(label: string, file: PromptFile): CompareSide {
  const v = versionOf(file);
  return { label, type: v.type, content: v.content, messages: v.messages, config: file.meta.config, input_schema: v.input_schema };
}
