/**
 * The layering rule of reclab (docs/architecture.md): the folders of `src/` form one ordered list
 * and a module imports only from its own folder and folders earlier in the list, so data flows one
 * way and no two folders can import each other (no cycles between folders). `npm run lint` fails
 * on an upward import with the two folders named.
 *
 * Tests (`*.test.ts`) and test helpers (`testutil.ts`) are outside the rule: they look at a module
 * from outside and may use anything (e.g. a models test reading experiment files).
 */
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * The folders of `src/`, lowest first. Folders in the architecture that do not exist yet keep
 * their place, so adding them needs no change here. `index.ts` (the public API) is above all.
 */
export const LAYERS = ['util', 'data', 'kernels', 'nn', 'models', 'eval', 'experiment', 'llm', 'knowledge', 'llmrec', 'agents', 'judge', 'laws', 'sim', 'serve', 'jobs', 'cli'];

/** The `src/` folder a path is in (`index.ts` for the public API), or null outside `src/`. */
export function layerOf(srcRoot, file) {
  const rel = relative(srcRoot, file);
  if (rel.startsWith('..') || rel === '') return null;
  return rel.split(sep)[0];
}

/** Rank of a folder: its place in LAYERS; the root files (index.ts) rank above every folder; unknown folders −1. */
function rank(layer) {
  const i = LAYERS.indexOf(layer);
  if (i >= 0) return i;
  return layer.endsWith('.ts') ? LAYERS.length : -1;
}

/** Why `from` may not import `to`, or null when it may. */
export function violation(from, to) {
  if (from === to || to === null) return null;
  if (rank(from) < 0) return `src/${from}/ is not in the layer list (eslint/layers.js LAYERS): add it where it belongs`;
  if (rank(to) < 0) return `src/${to}/ is not in the layer list (eslint/layers.js LAYERS): add it where it belongs`;
  if (rank(to) > rank(from)) return `src/${from} may not import src/${to}: ${to} is above ${from} in the layers (${LAYERS.join(' < ')} < index.ts; docs/architecture.md)`;
  return null;
}

const isExempt = (file) => /\.test\.ts$/.test(file) || /(^|[\\/])testutil\.ts$/.test(file);

/** The ESLint rule `reclab/layers`. */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'a src/ folder imports only from folders below it in the layer list (docs/architecture.md)' },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const srcRoot = resolve(context.cwd, 'src');
    const from = layerOf(srcRoot, file);
    if (from === null || isExempt(file)) return {};
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') return;
      const spec = source.value;
      if (!spec.startsWith('.')) return; // packages and node: builtins
      const target = resolve(dirname(file), spec);
      if (relative(resolve(context.cwd), target).split(sep)[0] === 'test') {
        context.report({ node, message: `src/${from} may not import the test helpers (${spec}): only tests may` });
        return;
      }
      const why = violation(from, layerOf(srcRoot, target));
      if (why) context.report({ node, message: `${why} — "${spec}"` });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : null),
    };
  },
};

/** The local plugin: `reclab/layers`. */
export default { rules: { layers: rule } };
