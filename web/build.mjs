// Builds the storefront into `dist/`: `index.html` (a template the gateway
// fills in per request) and `assets/` named by content hash, so the gateway
// can let browsers cache them for a year.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { build } from 'esbuild';

const dist = 'dist';
await rm(dist, { recursive: true, force: true });

const { metafile } = await build({
  entryPoints: ['src/main.js', 'src/style.css', 'src/favicon.svg'],
  loader: { '.svg': 'copy' },
  outdir: `${dist}/assets`,
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: 'linked',
  // Browsers of the last few years; zone.js needs nothing newer.
  target: ['es2020'],
  metafile: true,
  logLevel: 'warning',
});

// `{{main.js}}` in the page becomes `main-<hash>.js`, and so on.
const hashed = new Map();
for (const [output, { entryPoint }] of Object.entries(metafile.outputs)) {
  if (entryPoint) {
    hashed.set(basename(entryPoint), basename(output));
  }
}
let page = await readFile('src/index.html', 'utf8');
page = page.replace(/\{\{([\w.]+)\}\}/g, (placeholder, name) => {
  const file = hashed.get(name);
  if (!file) {
    throw new Error(`src/index.html names ${name}, which is not an entry point`);
  }
  return file;
});
await mkdir(dist, { recursive: true });
await writeFile(`${dist}/index.html`, page);
console.log(`built ${dist}/index.html and ${[...hashed.values()].join(', ')}`);
