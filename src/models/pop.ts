/**
 * Pop: recommend what most users interacted with. The floor every learned model must clear, and
 * a surprisingly strong one on many benchmarks.
 *
 * - global popularity: score(i) = number of training events on item i;
 * - recent-window popularity (`windowDays` > 0): only events within `windowDays` days of the
 *   newest training event count, so the ranking follows current trends.
 *
 * Every user gets the same scores; the caller excludes the user's history.
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport, Recommender } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { checkScoreArgs, secondsSince } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';

/** Hyperparameters of {@link Pop}. */
/** Hyperparameters of {@link Pop}. */
export const PopConfigSchema = z
  .object({
    windowDays: z.number().min(0).default(0).describe('count only events of the last windowDays days of training (0 = all time)'),
  })
  .strict();
export type PopConfig = z.infer<typeof PopConfigSchema>;

/** Defaults: global popularity. */
export const POP_DEFAULTS: PopConfig = PopConfigSchema.parse({});

/** The most-popular-items baseline. */
export class Pop implements Recommender {
  readonly name = 'pop';
  readonly config: PopConfig;
  /** Popularity score of each item (event count in the window). */
  counts: Float32Array = new Float32Array(0);

  constructor(config: Record<string, unknown> = {}) {
    this.config = parseConfig('pop', PopConfigSchema, config);
  }

  get nItems(): number {
    return this.counts.length;
  }

  /** Counts events per item, within the recent window when one is set. */
  async fit(train: Interactions, _options: FitOptions): Promise<FitReport> {
    const t0 = performance.now();
    const counts = new Float32Array(train.nItems);
    let since = -Infinity;
    if (this.config.windowDays > 0) {
      let newest = -Infinity;
      for (let p = 0; p < train.times.length; p++) if (train.times[p] > newest) newest = train.times[p];
      since = newest - this.config.windowDays * 86400;
    }
    for (let p = 0; p < train.items.length; p++) if (train.times[p] >= since) counts[train.items[p]]++;
    this.counts = counts;
    return { epochs: 0, seconds: secondsSince(t0), history: [] };
  }

  /** Writes the same popularity row for every user. */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    checkScoreArgs('pop', this.nItems, users, history, out);
    for (let r = 0; r < users.length; r++) out.set(this.counts, r * this.nItems);
  }

  async save(dir: string): Promise<void> {
    await writeCheckpoint(dir, { name: this.name, config: this.config, nItems: this.nItems }, {
      counts: { data: this.counts, shape: [this.nItems] },
    });
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<Pop> {
    const { meta, tensors } = await readCheckpoint(dir);
    const model = new Pop(meta.config);
    const counts = tensors.counts;
    if (!counts || !(counts.data instanceof Float32Array) || counts.data.length !== meta.nItems) {
      throw new Error(`${dir}: pop checkpoint lacks a float32 "counts" tensor of length ${meta.nItems}`);
    }
    model.counts = counts.data;
    return model;
  }
}

/** Registry entry. */
export const popEntry: ModelEntry = {
  name: 'pop',
  description: 'Most popular items (global or recent window)',
  configSchema: PopConfigSchema,
  sequential: false,
  create: (config) => new Pop(config),
  load: (dir) => Pop.load(dir),
};
