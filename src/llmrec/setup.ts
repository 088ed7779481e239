/**
 * Shared plumbing of the LLM verbs (`reclab profile`, `reclab llmrec`, `reclab arena`): the LLM
 * client from command-line flags, the dataset with its leave-one-out split and item catalogue,
 * seeded user sampling, and the systems being compared (saved model directories, or registry
 * names trained here on the train part of the split).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { concatInteractions } from '../data/interactions.ts';
import { loadDataset } from '../data/load.ts';
import { DataRng } from '../data/random.ts';
import { splitDataset } from '../data/split.ts';
import type { Dataset, Interactions, Split } from '../data/types.ts';
import { evaluate } from '../eval/evaluate.ts';
import { createClient, type LLMClient } from '../llm/index.ts';
import { createModel, loadModel } from '../models/registry.ts';
import type { Recommender } from '../models/recommender.ts';
import { topK } from '../models/topk.ts';
import { catalogueFromDataset, movieLensCatalogue, type ItemCatalogue } from './catalogue.ts';

/** LLM flags common to the verbs. */
export interface LlmFlags {
  baseUrl?: string;
  cache: string | false;
  record?: string;
  concurrency: string;
  rpm?: string;
  priceIn: string;
  priceOut: string;
  structured: string;
  threads?: string;
  context?: string;
}

function num(flag: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0 || (integer && !Number.isInteger(x))) throw new Error(`--${flag}: expected a non-negative ${integer ? 'integer' : 'number'}, got "${v}"`);
  return x;
}

/** Builds the client a provider spec names, with cache, recording, limits and prices from flags. */
export function clientFromFlags(spec: string, f: LlmFlags): LLMClient {
  if (!['json_schema', 'json_object', 'prompt'].includes(f.structured)) throw new Error(`--structured: expected json_schema, json_object or prompt, got "${f.structured}"`);
  const rpm = num('rpm', f.rpm);
  return createClient(spec, {
    baseURL: f.baseUrl,
    cacheDir: f.cache === false ? undefined : f.cache,
    recordPath: f.record,
    concurrency: num('concurrency', f.concurrency, true),
    minIntervalMs: rpm ? 60_000 / rpm : 0,
    pricing: { inputPerMTok: num('price-in', f.priceIn) ?? 0, outputPerMTok: num('price-out', f.priceOut) ?? 0 },
    structured: f.structured as 'json_schema' | 'json_object' | 'prompt',
    threads: num('threads', f.threads, true),
    contextSize: num('context', f.context, true),
  });
}

/** Data flags common to the verbs. */
export interface DataFlags {
  data: string;
  format: string;
  /** MovieLens movies.dat for titles when the dataset has none. */
  items?: string;
  /** Two-column id map from dataset item ids to movies.dat ids (e.g. sas_to_original_items.txt). */
  itemMap?: string;
}

/** The dataset, its leave-one-out split and its item catalogue. */
export interface LlmData {
  dataset: Dataset;
  split: Split;
  catalogue: ItemCatalogue;
  /** History at test time: train ∪ valid. */
  history: Interactions;
}

/** Loads the data, splits it leave-one-out and builds the catalogue (side table, else `--items`). */
export async function loadLlmData(f: DataFlags, progressBars = true): Promise<LlmData> {
  const dataset = await loadDataset({ source: f.data, format: f.format }, {}, { progress: progressBars });
  let catalogue: ItemCatalogue | undefined;
  if (f.items) {
    const c = movieLensCatalogue(dataset.itemIds, f.items, f.itemMap);
    if (c.missing === c.n) throw new Error(`${f.items}: no item of ${dataset.name} found${f.itemMap ? ` via ${f.itemMap}` : ''}; is --item-map needed?`);
    if (c.missing) process.stderr.write(`reclab: ${c.missing} of ${c.n} items have no title in ${f.items}\n`);
    catalogue = c;
  } else catalogue = catalogueFromDataset(dataset);
  if (!catalogue) throw new Error(`${dataset.name} has no item titles: pass --items <movies.dat> (and --item-map <file> when ids were remapped)`);
  const split = splitDataset(dataset, { kind: 'loo' });
  return { dataset, split, catalogue, history: concatInteractions(split.train, split.valid) };
}

/** `n` distinct users with a test event, drawn with a seeded RNG, in ascending id order. */
export function sampleUsers(targets: Interactions, n: number, seed: number): Int32Array {
  const pool: number[] = [];
  for (let u = 0; u < targets.nUsers; u++) if (targets.offsets[u + 1] > targets.offsets[u]) pool.push(u);
  if (pool.length === 0) throw new Error('no user has a held-out event');
  const rng = new DataRng(seed);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.uint32() % (i + 1);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return Int32Array.from(pool.slice(0, Math.min(n, pool.length)).sort((a, b) => a - b));
}

/** A system under comparison. */
export interface System {
  /** Display name (unique). */
  name: string;
  model: Recommender;
  /** Where it came from: a model directory or `trained here: <name> <config>`. */
  origin: string;
}

/**
 * Resolves a system spec: an existing directory with model.json is loaded (it must have been
 * trained on the train part of the same leave-one-out split); otherwise `name` or
 * `name:{json config}` is created from the registry and trained on the split's train part.
 * With `saveDir`, a model trained here is saved to `<saveDir>/<name>` for reuse.
 */
export async function resolveSystem(spec: string, split: Split, seed: number, saveDir?: string, progressBars = true): Promise<System> {
  if (existsSync(join(spec, 'model.json'))) {
    const model = await loadModel(spec);
    if (model.nItems !== split.dataset.nItems) throw new Error(`${spec}: model scores ${model.nItems} items but ${split.dataset.name} has ${split.dataset.nItems}; was it trained on this dataset?`);
    return { name: spec.replace(/\/+$/, '').split('/').pop()!, model, origin: spec };
  }
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  let config: Record<string, unknown> = {};
  if (colon >= 0) {
    try {
      config = JSON.parse(spec.slice(colon + 1)) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`system "${spec}": the config after ':' must be a JSON object (${(e as Error).message})`);
    }
  }
  const model = createModel(name, config);
  process.stderr.write(`training ${name} on the train part of ${split.dataset.name} (${split.protocol.kind})…\n`);
  const report = await model.fit(split.train, { seed, progress: progressBars });
  process.stderr.write(`trained ${name} in ${report.seconds.toFixed(1)} s\n`);
  const label = colon < 0 ? name : `${name}${Object.entries(config).map(([k, v]) => `-${k}=${JSON.stringify(v)}`).join('')}`;
  if (saveDir) await model.save(join(saveDir, label));
  return { name: label, model, origin: `trained here: ${name} ${JSON.stringify(model.config)} seed ${seed}` };
}

/** Top-k lists of `model` for `users`, excluding each user's `history` items. */
export function topLists(model: Recommender, users: Int32Array, history: Interactions, k: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const n = model.nItems;
  const block = 64;
  const scores = new Float32Array(block * n);
  for (let s = 0; s < users.length; s += block) {
    const batch = users.subarray(s, Math.min(users.length, s + block));
    const view = scores.subarray(0, batch.length * n);
    model.scoreUsers(batch, history, view);
    for (let r = 0; r < batch.length; r++) {
      const u = batch[r];
      const seen = new Set(history.items.subarray(history.offsets[u], history.offsets[u + 1]));
      const top = topK(view.subarray(r * n, (r + 1) * n), k, (i) => seen.has(i));
      out.set(u, Array.from(top.items));
    }
  }
  return out;
}

/** Offline test metrics of a model under full ranking (history train ∪ valid excluded). */
export async function offlineMetrics(model: Recommender, data: LlmData, metrics: string[], progressBars = true): Promise<Record<string, number>> {
  const { train, valid, test } = data.split;
  const r = await evaluate(model, { history: data.history, exclude: [train, valid], targets: test, train, seen: [train, valid, test] }, { metrics, protocol: 'full', progress: progressBars ? undefined : false });
  return r.metrics;
}
