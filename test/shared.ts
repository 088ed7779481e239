/** Locates `../shared` (real datasets, peers, models) for tests; tests that need it skip when absent. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

/** Absolute path of the shared folder beside the checkout (or $RECLAB_SHARED). */
export const SHARED = resolve(process.env.RECLAB_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'));

/** Absolute path of a file under shared/datasets. */
export function datasetPath(rel: string): string {
  return join(SHARED, 'datasets', rel);
}

/** True when `shared/datasets/<rel>` exists. Use with `describe.skipIf(!hasDataset(...))`. */
export function hasDataset(rel: string): boolean {
  const ok = existsSync(datasetPath(rel));
  if (!ok) console.warn(`[skip] ../shared/datasets/${rel} not found: tests on real data are skipped`);
  return ok;
}
