// The preview webview: DOM only, never `vscode`. It renders what the host posts.
import { isHostToPreview, type PreviewMessage, type PreviewToHost, type PreviewUpdate } from '../protocol.js';

interface VsCodeApi {
  postMessage(message: PreviewToHost): void;
  getState(): PreviewUpdate | undefined;
  setState(state: PreviewUpdate): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const ROLE_LABEL: Record<PreviewMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool' };

/** A chat as role-labelled bubbles: system across, user on the right, assistant and tool on the left. */
function conversation(list: HTMLElement, messages: readonly PreviewMessage[]): void {
  list.replaceChildren(
    ...messages.map((m) => {
      const item = document.createElement('li');
      item.className = `bubble ${m.role}${m.placeholder ? ' from-placeholder' : ''}`;
      const label = document.createElement('div');
      label.className = 'role';
      label.textContent = ROLE_LABEL[m.role] + (m.placeholder ? ` · from {{${m.placeholder === 'history' ? 'history' : m.placeholder}}}` : '');
      const text = document.createElement('div');
      text.className = 'content';
      text.textContent = m.content;
      item.append(label, text);
      return item;
    }),
  );
}

function show(update: PreviewUpdate): void {
  $('file').textContent = update.fileName;
  const kind = update.messages ? `${update.messages.length} messages · ` : '';
  $('counts').textContent = `${kind}${update.chars.toLocaleString()} characters · ≈${update.tokens.toLocaleString()} tokens · ${update.variables.length} variables`;
  const error = $('error');
  const output = $('output');
  const list = $('conversation');
  if (update.error) {
    error.hidden = false;
    error.textContent = update.error.message;
  } else {
    error.hidden = true;
  }
  output.classList.toggle('stale', Boolean(update.error));
  list.classList.toggle('stale', Boolean(update.error));
  output.hidden = update.messages !== null;
  list.hidden = update.messages === null;
  if (update.messages) conversation(list, update.messages);
  else if (update.rendered !== null) output.textContent = update.rendered;
  const missing = $('missing');
  missing.hidden = update.missing.length === 0;
  missing.textContent = update.missing.length ? `No sample for: ${update.missing.join(', ')}` : '';
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (!isHostToPreview(event.data)) return;
  vscode.setState(event.data);
  show(event.data);
});

$('copy').addEventListener('click', () => vscode.postMessage({ type: 'copy' }));

const saved = vscode.getState();
if (saved) show(saved);
vscode.postMessage({ type: 'ready' });
