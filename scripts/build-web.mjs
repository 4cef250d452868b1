#!/usr/bin/env node
// Builds the web client (web/) into dist/web/ (spec/web-client.md):
//  - esbuild bundles web/src/main.ts and the CSS it imports, minified, into `app-<hash>.js` and
//    `app-<hash>.css` (content-hashed names, cached as immutable by the server);
//  - web/index.html is copied with the hashed names filled in (it is served `no-cache`);
//  - every text file gets .br and .gz siblings, compressed once here at the highest levels, so the
//    server only picks one by Accept-Encoding.
// The new build is written beside the old one and swapped in with renames, so a server starting
// meanwhile never reads half a build. Prints each file's size, raw, gzip and brotli.
// Usage: node scripts/build-web.mjs [--outdir DIR] [--quiet]
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

/** Builds into `outdir`; answers the files with their sizes. */
export async function buildWeb({ outdir = path.join(root, 'dist', 'web'), quiet = false } = {}) {
  const staging = `${outdir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { app: 'web/src/main.ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome105', 'firefox104', 'safari16'],
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    outdir: staging,
    metafile: true,
    sourcemap: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: quiet ? 'error' : 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs);
  const entry = outputs.find(([, o]) => o.entryPoint === 'web/src/main.ts');
  if (!entry) throw new Error('esbuild produced no bundle for web/src/main.ts');
  const js = path.basename(entry[0]);
  const css = entry[1].cssBundle ? path.basename(entry[1].cssBundle) : undefined;
  let html = readFileSync(path.join(root, 'web', 'index.html'), 'utf8');
  html = html.replace('%APP_JS%', js);
  html = css ? html.replace('%APP_CSS%', css) : html.replace(/^.*%APP_CSS%.*\n/m, '');
  if (/%APP_[A-Z]+%/.test(html)) throw new Error('web/index.html names a placeholder the build does not fill');
  writeFileSync(path.join(staging, 'index.html'), html);

  const files = [];
  for (const name of readdirSync(staging).sort()) {
    const file = path.join(staging, name);
    const body = readFileSync(file);
    const entry = { name, raw: body.length, gzip: undefined, br: undefined };
    if (COMPRESSIBLE.has(path.extname(name))) {
      const gz = gzipSync(body, { level: 9 });
      const br = brotliCompressSync(body, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT },
      });
      writeFileSync(`${file}.gz`, gz);
      writeFileSync(`${file}.br`, br);
      entry.gzip = gz.length;
      entry.br = br.length;
    }
    files.push(entry);
  }

  // Swap the new build in.
  const old = `${outdir}.old-${process.pid}`;
  if (existsSync(outdir) && statSync(outdir).isDirectory()) renameSync(outdir, old);
  renameSync(staging, outdir);
  rmSync(old, { recursive: true, force: true });

  if (!quiet) {
    const kb = (n) => (n === undefined ? '-' : `${(n / 1024).toFixed(1)} KB`);
    process.stdout.write(`web client -> ${path.relative(process.cwd(), outdir) || outdir}\n`);
    for (const f of files) process.stdout.write(`  ${f.name.padEnd(24)} ${kb(f.raw).padStart(9)}  gzip ${kb(f.gzip).padStart(9)}  br ${kb(f.br).padStart(9)}\n`);
    const sum = (k) => files.reduce((n, f) => n + (f[k] ?? f.raw), 0);
    process.stdout.write(`  ${'total'.padEnd(24)} ${kb(sum('raw')).padStart(9)}  gzip ${kb(sum('gzip')).padStart(9)}  br ${kb(sum('br')).padStart(9)}\n`);
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outdir');
  const outdir = at >= 0 ? path.resolve(args[at + 1] ?? '') : undefined;
  buildWeb({ ...(outdir ? { outdir } : {}), quiet: args.includes('--quiet') }).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
