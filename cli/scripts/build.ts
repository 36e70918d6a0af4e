// Builds the `weft` command into plain JavaScript (cli/dist/), run by `npm ci` (prepare) and
// by turbo before the tests. Why a bundle: a sidecar that strips TypeScript at run time
// carries the stripper (≈ 18 MB RSS) and parses ~150 files; the bundle is one entry chunk
// plus one chunk per command (each command's heavy code is a dynamic import), so `weft
// proxy` loads only the sidecar. esbuild is the bundler (fast enough to run on every
// install and test run: well under a second).
//
// Source locations stay true: `import.meta.url` in our sources is replaced by the URL of the
// file it was written in, so files read beside the sources (the dashboard's ui/, the example
// mesh, the native addon) are found where they are. dist/inputs.json lists every input;
// bin/weft.js refuses a bundle older than any of them and runs the sources instead.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Loader, Plugin } from 'esbuild';

const cliDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(cliDir, '..');
const distDir = join(cliDir, 'dist');
// Built beside and swapped in whole, so a process starting meanwhile sees the old or the new.
const outdir = join(cliDir, `dist.tmp-${process.pid}`);

const LOADERS: Record<string, Loader> = { '.ts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js' };

/** Replaces `import.meta.url` with the file's own URL (the bundle lives elsewhere). */
const sourceUrls: Plugin = {
  name: 'source-urls',
  setup(b) {
    b.onLoad({ filter: /\.(ts|js|mjs|cjs)$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: text.replaceAll('import.meta.url', url), loader: LOADERS[extname(args.path)] ?? 'js' };
    });
  },
};

/**
 * Node's built-in modules through require(), not import: an ES import of a built-in builds
 * its namespace by reading every export, and lazy getters then load what nothing uses
 * (`import 'node:http'` pulls in Node's own undici for http.WebSocket: +11 MB RSS).
 */
const BUILTINS = new Set(builtinModules);
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^[a-z_/:]+$/ }, (args) => {
      // The require() inside the stand-in below is the real one.
      if (args.importer.startsWith('node:') && args.namespace === 'node-builtin') return { path: args.path, external: true };
      // A dynamic import() stays one: it runs late if at all (the OTLP exporter's), and
      // esbuild's split chunk for it did not give the importer its exports.
      if (args.kind === 'dynamic-import') return undefined;
      const name = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
      if (!BUILTINS.has(name) && !args.path.startsWith('node:')) return undefined;
      return { path: args.path.startsWith('node:') ? args.path : `node:${name}`, namespace: 'node-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

// esbuild is a dev dependency: an install without them (npm ci --omit=dev) runs the sources.
let esbuild: typeof import('esbuild');
try {
  esbuild = await import('esbuild');
} catch {
  console.log('weft: esbuild is not installed (production install?): no bundle, weft runs the TypeScript sources');
  process.exit(0);
}

const startedAt = Date.now();
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await esbuild.build({
  entryPoints: { weft: join(cliDir, 'src/main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // CommonJS dependencies (undici, grpc-js, pino) call require(): give ESM chunks one.
  banner: { js: "import { createRequire as __weftRequire } from 'node:module'; const require = __weftRequire(import.meta.url);" },
  plugins: [builtinsByRequire, sourceUrls],
  metafile: true,
  sourcemap: 'linked',
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// What the bundle was built from, for bin/weft.js's freshness check. npm rewrites
// node_modules/.package-lock.json on every install (installed files keep npm's fixed mtime).
const inputs = Object.keys(result.metafile.inputs)
  .filter((p) => !/^[a-z-]+:/.test(p)) // virtual modules (namespace:path), no file
  .map((p) => relative(repoRoot, resolve(process.cwd(), p)));
inputs.push('node_modules/.package-lock.json');
writeFileSync(join(outdir, 'inputs.json'), `${JSON.stringify({ builtAtMs: startedAt, inputs })}\n`);
// WEFT_BUILD_META=1 also writes esbuild's metafile: what each chunk holds, and why.
if (process.env['WEFT_BUILD_META']) writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
writeFileSync(join(outdir, 'package.json'), '{ "type": "module" }\n');
rmSync(`${distDir}.old-${process.pid}`, { recursive: true, force: true });
try {
  renameSync(distDir, `${distDir}.old-${process.pid}`);
} catch {
  // no earlier build
}
renameSync(outdir, distDir);
rmSync(`${distDir}.old-${process.pid}`, { recursive: true, force: true });
console.log(`weft: built cli/dist (${inputs.length} inputs) in ${Date.now() - startedAt} ms`);
