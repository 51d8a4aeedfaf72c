/**
 * What the registry stores for the model settings a new version leaves out.
 * The server applies them; the CLI and the editor compare a file with a
 * version as if the file had them too.
 */
export const VERSION_DEFAULTS = { model: 'gpt-4o', temperature: 0, max_tokens: 1000 } as const;
