/**
 * The ANN index as part of a model bundle (ann.ts): written by `reclab train` next to the
 * checkpoint when the model is a dot-product model over a catalogue of at least `minItems` items,
 * and found by the engine through the served model itself — so a swap to another bundle serves
 * that bundle's index with it, and the old one is dropped with the old model.
 */
import { existsSync } from 'node:fs';
import { isDotProduct, type Recommender } from '../models/recommender.ts';
import type { ServedModel } from './bundle.ts';
import { ANN_DEFAULTS, AnnIndex, annPath, useAnn, type AnnSettings } from './ann.ts';
import type { Interactions } from '../data/types.ts';

/** Item vectors [nItems × dims] of a dot-product model (a view of the model's own memory). */
function itemVectors(model: Recommender): { vectors: Float32Array; dims: number } | undefined {
  if (!isDotProduct(model)) return undefined;
  const panels = model.itemPanels();
  return { vectors: panels.rows.a.subarray(0, panels.nItems * panels.dims), dims: panels.dims };
}

/**
 * Builds and saves the bundle's index when the model qualifies (dot product, catalogue ≥
 * `minItems`); returns whether it did. Progress goes to `onProgress(done, total)`.
 */
export function buildBundleAnn(dir: string, model: Recommender, settings: Partial<AnnSettings> = {}, onProgress?: (done: number, total: number) => void): boolean {
  const s = { ...ANN_DEFAULTS, ...settings };
  const v = itemVectors(model);
  if (!v || !useAnn(model.nItems, s)) return false;
  AnnIndex.build(v.vectors, model.nItems, v.dims, s, onProgress).save(annPath(dir));
  return true;
}

/** Indexes loaded per served model (null: that bundle has none). */
const loaded = new WeakMap<ServedModel, AnnIndex | null>();

/** The served model's index, loaded on first use (a swap brings the new bundle's), or undefined when its bundle has none. */
export function annFor(served: ServedModel, settings: Partial<AnnSettings> = {}): AnnIndex | undefined {
  const known = loaded.get(served);
  if (known !== undefined) return known ?? undefined;
  let index: AnnIndex | null = null;
  // The bundle has an index only when training decided the catalogue was large enough for it;
  // the file is looked for first, so a bundle without one costs the model nothing.
  const v = existsSync(annPath(served.dir)) ? itemVectors(served.model) : undefined;
  if (v) index = AnnIndex.load(annPath(served.dir), v.vectors, served.model.nItems, v.dims, settings);
  loaded.set(served, index);
  return index ?? undefined;
}

/**
 * Top `k` items for one user through the index: the user's vector from the model (`users` [one
 * row] of `view`, as the engine would score them), then the filtered, exactly re-scored search.
 */
export function annTopK(served: ServedModel, index: AnnIndex, users: Int32Array, view: Interactions, k: number, skip: (item: number) => boolean): { items: Int32Array; scores: Float32Array } {
  const model = served.model;
  if (!isDotProduct(model)) throw new Error(`${served.name}: the ANN path needs a dot-product model`);
  const q = new Float32Array(index.d);
  model.userVectors(users, view, q);
  return index.search(q, k, { exclude: skip });
}
