/** Told about after-commit work that threw: what ran, and the error. */
export type AfterCommitErrorHandler = (err: unknown, what: string) => void;

export interface AfterCommitWork {
  what: string;
  fn: () => void;
}

/** Until the app says where to log: stderr, so a failure is never silent. */
export const stderrAfterCommitErrors: AfterCommitErrorHandler = (err, what) => {
  process.stderr.write(`after-commit work failed (${what}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
};

/**
 * Runs each piece of after-commit work on its own: the transaction has committed,
 * so a failure is reported and must neither stop the rest nor reach the request.
 */
export function runAfterCommit(work: readonly AfterCommitWork[], onError: AfterCommitErrorHandler): void {
  for (const { what, fn } of work) {
    try {
      fn();
    } catch (err) {
      try {
        onError(err, what);
      } catch {
        // A logger that throws has nowhere left to report to.
      }
    }
  }
}
