// The extensionTestsPath module: VS Code's extension host calls run(); a rejection is a failure.
// Bundled to dist/extension-tests/index.cjs by scripts/build-extension.mjs --tests.
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  // Define describe/it as globals, then load the bundled tests, which use them.
  mocha.suite.emit('pre-require', globalThis, 'extension.tests.cjs', mocha);
  // PR_TREE_URL: the run against a registry of 10,000 prompts; PR_APPROVALS_URL: one needing approvals;
  // PR_SIGNIN_IDP: sign-in; otherwise the main suite.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (process.env.PR_TREE_URL) require('./tree.tests.cjs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  else if (process.env.PR_APPROVALS_URL) require('./approvals.tests.cjs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  else if (process.env.PR_SIGNIN_IDP) require('./signin.tests.cjs');
  else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('./extension.tests.cjs');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('./executions.tests.cjs');
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension test(s) failed`)) : resolve()));
  });
}
