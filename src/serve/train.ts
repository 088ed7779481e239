/**
 * Training a servable model: load a dataset, fit a registered model on all of it (serving wants
 * every known event), and write the checkpoint plus the raw-id maps and history the server needs
 * (bundle.ts). `reclab train` is a thin wrapper around {@link trainBundle}.
 */
import type { Dataset, SideColumn } from '../data/types.ts';
import { createModel } from '../models/registry.ts';
import type { FitReport } from '../models/recommender.ts';
import { saveBundle } from './bundle.ts';
import { buildBundleAnn } from './ann-bundle.ts';
import type { AnnSettings } from './ann.ts';
import { progress } from '../util/progress.ts';

/** Options of {@link trainBundle}. */
export interface TrainOptions {
  /** Registry name of the model (`ease`, `sasrec`, …). */
  model: string;
  /** Hyperparameters (unknown keys are the model's error). */
  config?: Record<string, unknown>;
  seed?: number;
  /** Output directory of the bundle. */
  out: string;
  progress?: boolean;
  /** ANN index settings (ann.ts; built when the catalogue has at least `minItems` items); false = never. */
  ann?: Partial<AnnSettings> | false;
}

/** Side-table column names read as item categories, in order of preference. */
export const CATEGORY_COLUMNS = ['categories', 'category', 'genres', 'genre'];

/** Each item's categories from the dataset's item side table (empty lists when it has none). */
export function itemCategories(data: Dataset): string[][] {
  const out: string[][] = Array.from({ length: data.itemIds.size }, () => []);
  const columns = data.itemSide?.columns ?? {};
  const name = CATEGORY_COLUMNS.find((c) => columns[c] !== undefined);
  if (!name) return out;
  const col = columns[name] as SideColumn;
  if (col.type === 'token_seq') {
    for (let i = 0; i < out.length; i++) {
      for (let p = col.offsets[i]; p < col.offsets[i + 1]; p++) if (col.values[p] >= 0) out[i].push(col.vocab.toRaw(col.values[p]));
    }
  } else if (col.type === 'token') {
    for (let i = 0; i < out.length; i++) if (col.values[i] >= 0) out[i].push(col.vocab.toRaw(col.values[i]));
  }
  return out;
}

/** Fits `options.model` on every event of `data` and writes a servable bundle to `options.out`. */
export async function trainBundle(data: Dataset, options: TrainOptions): Promise<FitReport> {
  const model = createModel(options.model, options.config ?? {});
  const report = await model.fit(data, { seed: options.seed ?? 42, progress: options.progress });
  await model.save(options.out);
  await saveBundle(options.out, {
    name: data.name,
    fingerprint: data.fingerprint,
    userIds: data.userIds,
    itemIds: data.itemIds,
    history: data,
    itemCategories: itemCategories(data),
  });
  if (options.ann !== false) {
    // Minutes at a million items: a bar with its ETA (drawn only on a terminal).
    const bar = progress('ann index', model.nItems, { enabled: options.progress, unit: 'items' });
    let last = 0;
    buildBundleAnn(options.out, model, options.ann ?? {}, (done) => {
      bar.tick(done - last);
      last = done;
    });
    bar.stop();
  }
  return report;
}
