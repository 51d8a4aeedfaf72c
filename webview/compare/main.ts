// The compare webview: DOM only, never `vscode`. Two versions, message by message and config by config.
import { isHostToCompare, type CompareToHost, type CompareUpdate, type ComparedMessage, type MessageRow } from '../protocol.js';

interface VsCodeApi {
  postMessage(message: CompareToHost): void;
  getState(): CompareUpdate | undefined;
  setState(state: CompareUpdate): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const $ = (id: string) => document.getElementById(id)!;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const STATUS = { same: 'unchanged', changed: 'changed', added: 'added', removed: 'removed' } as const;

/** One side of a message row: a role-labelled bubble, its lines marked where they changed. */
function cell(message: ComparedMessage | null, row: MessageRow, side: 'left' | 'right'): HTMLElement {
  if (!message) return el('div', 'cell empty', side === 'left' ? '(not in this version)' : '(removed)');
  const box = el('div', `cell bubble ${message.role}`);
  box.append(el('div', 'role', message.role === 'placeholder' ? 'placeholder' : message.role));
  const body = el('div', 'content');
  if (row.lines) {
    for (const line of row.lines) {
      if ((side === 'left' && line.kind === 'added') || (side === 'right' && line.kind === 'removed')) continue;
      body.append(el('div', `line ${line.kind}`, line.text || ' '));
    }
  } else {
    body.textContent = message.content;
  }
  box.append(body);
  return box;
}

function show(update: CompareUpdate): void {
  const c = update.comparison;
  $('title').textContent = update.title;
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  $('summary').textContent =
    c.changes.messages + c.changes.config === 0 ? 'identical' : `${plural(c.changes.messages, 'message')} and ${plural(c.changes.config, 'config value')} differ`;
  for (const [id, text] of [['left-label', c.left], ['right-label', c.right], ['left-head', c.left], ['right-head', c.right]] as const) $(id).textContent = text;
  $('messages').replaceChildren(
    ...c.messages.map((row, i) => {
      const li = el('li', `row ${row.status}`);
      li.append(el('div', 'badge', `${i + 1} · ${STATUS[row.status]}`));
      const cols = el('div', 'columns');
      cols.append(cell(row.left, row, 'left'), cell(row.right, row, 'right'));
      li.append(cols);
      return li;
    }),
  );
  const body = document.querySelector('#config tbody')!;
  body.replaceChildren(
    ...c.config.map((row) => {
      const tr = el('tr', row.status);
      tr.append(el('th', 'key', row.key), el('td', 'value left', row.left ?? '—'), el('td', 'value right', row.right ?? '—'));
      return tr;
    }),
  );
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (!isHostToCompare(event.data)) return;
  vscode.setState(event.data);
  show(event.data);
});

const saved = vscode.getState();
if (saved) show(saved);
vscode.postMessage({ type: 'ready' });
