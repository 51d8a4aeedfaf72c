/**
 * The messages between the extension host and its webviews, typed once and
 * imported by both sides. The webview speaks first (`ready`); the host posts
 * nothing before it.
 */

/** Host → preview: the rendered prompt, or why it could not be rendered. */
export interface PreviewUpdate {
  type: 'update';
  fileName: string;
  rendered: string | null;
  error: { message: string; variable?: string } | null;
  chars: number;
  /** An estimate: about four characters a token. */
  tokens: number;
  variables: string[];
  missing: string[];
}

export type HostToPreview = PreviewUpdate;

export interface PreviewReady {
  type: 'ready';
}

export interface PreviewCopy {
  type: 'copy';
}

export type PreviewToHost = PreviewReady | PreviewCopy;

export function isPreviewToHost(value: unknown): value is PreviewToHost {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'ready' || type === 'copy';
}

export function isHostToPreview(value: unknown): value is HostToPreview {
  return (value as { type?: unknown } | null)?.type === 'update';
}

/** The token estimate the preview shows: no tokenizer ships with the extension, so ~4 characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
