// The preview webview: DOM only, never `vscode`. It renders what the host posts.
import { isHostToPreview, type PreviewToHost, type PreviewUpdate } from '../protocol.js';

interface VsCodeApi {
  postMessage(message: PreviewToHost): void;
  getState(): PreviewUpdate | undefined;
  setState(state: PreviewUpdate): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function show(update: PreviewUpdate): void {
  $('file').textContent = update.fileName;
  $('counts').textContent = `${update.chars.toLocaleString()} characters · ≈${update.tokens.toLocaleString()} tokens · ${update.variables.length} variables`;
  const error = $('error');
  const output = $('output');
  if (update.error) {
    error.hidden = false;
    error.textContent = update.error.message;
    output.classList.add('stale');
  } else {
    error.hidden = true;
    output.classList.remove('stale');
  }
  if (update.rendered !== null) output.textContent = update.rendered;
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
