/**
 * The dashboard's static files: the page shell, its own scripts and style (./assets), and the
 * front-end libraries straight from node_modules (Preact, htm, uPlot) — nothing from a CDN, so the
 * dashboard works offline. Only the files listed here can be fetched.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One servable file. */
export interface Asset {
  type: string;
  body: Buffer;
}

const require = createRequire(import.meta.url);
const here = join(dirname(fileURLToPath(import.meta.url)), 'assets');

/** The page's own modules (./assets) by URL name. */
const OWN = ['app.js', 'api.js', 'html.js', 'charts.js', 'runs.js', 'data.js', 'laws.js', 'arena.js', 'service.js', 'style.css'];

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' };
const typeOf = (name: string): string => TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';

/** Where the vendored libraries are (resolved through their packages, so an upgrade is picked up). */
function vendorFiles(): Record<string, string> {
  const preact = dirname(require.resolve('preact'));
  return {
    'preact.mjs': join(preact, 'preact.mjs'),
    'hooks.mjs': require.resolve('preact/hooks'),
    'htm.mjs': join(dirname(require.resolve('htm')), 'htm.mjs'),
    'uPlot.esm.js': require.resolve('uplot/dist/uPlot.esm.js'),
    'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
  };
}

/** The import map that lets the page's modules (and Preact's hooks) import the libraries by name. */
const IMPORT_MAP = JSON.stringify({
  imports: { preact: './assets/preact.mjs', 'preact/hooks': './assets/hooks.mjs', htm: './assets/htm.mjs', uplot: './assets/uPlot.esm.js' },
});

/** The page shell: no data in it, so it is served without the API key. */
const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reclab dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="./assets/uPlot.min.css">
<link rel="stylesheet" href="./assets/style.css">
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="./assets/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

/**
 * Content-Security-Policy of every dashboard response: scripts only from this origin (plus the
 * import map, by hash), no inline script, no framing, requests only to this origin.
 */
export const CSP = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  // uPlot sizes its canvas and legend with style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Loads every asset once (they are small); throws naming a file that is missing. */
export function loadAssets(): { shell: Asset; files: Map<string, Asset> } {
  const files = new Map<string, Asset>();
  const add = (name: string, path: string): void => {
    try {
      files.set(name, { type: typeOf(name), body: readFileSync(path) });
    } catch (e) {
      throw new Error(`dashboard asset ${name}: cannot read ${path} (${(e as Error).message})`);
    }
  };
  for (const name of OWN) add(name, join(here, name));
  for (const [name, path] of Object.entries(vendorFiles())) add(name, path);
  return { shell: { type: TYPES.html, body: Buffer.from(SHELL) }, files };
}
