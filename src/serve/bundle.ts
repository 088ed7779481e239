/**
 * A servable model: a checkpoint (model.json + weights.safetensors, as every model saves) plus
 * what the server needs to speak raw ids and to know each user's past:
 *
 *   serve.json            raw user ids and raw item ids in dense-id order, item categories,
 *                         the dataset name and fingerprint
 *   history.safetensors   the training interactions in CSR form (offsets, items, times)
 *
 * `reclab train` writes all of it ({@link saveBundle}); `reclab serve` reads it ({@link loadBundle}).
 */
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IdMap, type Interactions } from '../data/types.ts';
import type { Recommender } from '../models/recommender.ts';
import { isSequential } from '../models/recommender.ts';
import { loadModel } from '../models/registry.ts';
import { readCheckpointMeta } from '../models/checkpoint.ts';
import { loadSafetensors, saveSafetensors } from '../nn/safetensors.ts';

/** Format tag of serve.json. */
export const BUNDLE_FORMAT = 'reclab-serve';
/** Version of serve.json. */
export const BUNDLE_VERSION = 1;

/** The JSON sidecar written beside a checkpoint for serving. */
export interface BundleMeta {
  format: typeof BUNDLE_FORMAT;
  version: number;
  /** Dataset name and fingerprint the model was trained on. */
  dataset: string;
  fingerprint: string;
  /** Raw user ids; index = dense id. */
  users: string[];
  /** Raw item ids; index = dense id. */
  items: string[];
  /** Categories of each item (dense-id order), when the dataset has them. */
  itemCategories?: string[][];
  savedAt: string;
  /**
   * Set on bundles the service retrained itself (retrain.ts): the offline bundle whose history it
   * extends (name under --models), and the store's feedback log position it has learnt up to.
   */
  retrain?: { base: string; storeSeq: number };
}

/** A model loaded for serving. Immutable once built: a swap replaces the whole object. */
export interface ServedModel {
  /** Registry name of the model (`ease`, `sasrec`, …). */
  name: string;
  /** Version reported with every answer: bundle directory name and save time. */
  version: string;
  dir: string;
  model: Recommender;
  sequential: boolean;
  users: IdMap;
  items: IdMap;
  /** Training interactions (dense ids), the stored past of known users. */
  history: Interactions;
  /** Training event count per item (dense ids): the popularity prior. */
  popularity: Float32Array;
  /** Time of each item's first training event (a proxy for its publication time). */
  firstSeen: Float64Array;
  itemCategories: string[][];
  dataset: string;
  fingerprint: string;
}

/** Writes serve.json and history.safetensors for `model` (already saved into `dir` by `model.save`). */
export async function saveBundle(
  dir: string,
  data: { name: string; fingerprint: string; userIds: IdMap; itemIds: IdMap; history: Interactions; itemCategories?: string[][]; retrain?: BundleMeta['retrain'] },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const h = data.history;
  await saveSafetensors(join(dir, 'history.safetensors'), {
    offsets: { data: h.offsets, shape: [h.offsets.length] },
    items: { data: h.items, shape: [h.items.length] },
    times: { data: h.times, shape: [h.times.length] },
  });
  const meta: BundleMeta = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    dataset: data.name,
    fingerprint: data.fingerprint,
    users: data.userIds.toArray(),
    items: data.itemIds.toArray(),
    itemCategories: data.itemCategories,
    savedAt: new Date().toISOString(),
    ...(data.retrain ? { retrain: data.retrain } : {}),
  };
  // Written last and atomically: a directory with serve.json is complete.
  const tmp = join(dir, `serve.json.tmp-${process.pid}`);
  await writeFile(tmp, `${JSON.stringify(meta)}\n`);
  await rename(tmp, join(dir, 'serve.json'));
}

/** True when `dir` holds a complete servable bundle. */
export function isBundleDir(dir: string): boolean {
  return existsSync(join(dir, 'model.json')) && existsSync(join(dir, 'serve.json'));
}

/** Loads a bundle written by `reclab train`, checking that model, id maps and history agree. */
export async function loadBundle(dir: string, versionLabel?: string): Promise<ServedModel> {
  const metaPath = join(dir, 'serve.json');
  if (!existsSync(metaPath)) throw new Error(`${dir}: not a servable model (no serve.json; train it with \`reclab train\`)`);
  let meta: BundleMeta;
  try {
    meta = JSON.parse(await readFile(metaPath, 'utf8')) as BundleMeta;
  } catch (e) {
    throw new Error(`${metaPath}: invalid JSON (${(e as Error).message})`);
  }
  if (meta.format !== BUNDLE_FORMAT) throw new Error(`${metaPath}: format is "${meta.format}", expected "${BUNDLE_FORMAT}"`);
  if (!(meta.version >= 1 && meta.version <= BUNDLE_VERSION)) {
    throw new Error(`${metaPath}: version ${meta.version} is newer than this reclab supports (${BUNDLE_VERSION})`);
  }
  if (!Array.isArray(meta.users) || !Array.isArray(meta.items)) throw new Error(`${metaPath}: field "users" and "items" must be arrays`);
  const checkpoint = await readCheckpointMeta(dir);
  const model = await loadModel(dir);
  if (model.nItems !== meta.items.length) {
    throw new Error(`${dir}: model scores ${model.nItems} items but serve.json lists ${meta.items.length}`);
  }
  const { tensors } = await loadSafetensors(join(dir, 'history.safetensors'));
  const offsets = tensors.offsets?.data;
  const items = tensors.items?.data;
  const times = tensors.times?.data;
  if (!(offsets instanceof Int32Array) || !(items instanceof Int32Array) || !(times instanceof Float64Array)) {
    throw new Error(`${dir}/history.safetensors: expected int32 "offsets", int32 "items" and float64 "times"`);
  }
  const nUsers = meta.users.length;
  if (offsets.length !== nUsers + 1 || offsets[nUsers] !== items.length || times.length !== items.length) {
    throw new Error(`${dir}/history.safetensors: shapes do not match ${nUsers} users (offsets ${offsets.length}, items ${items.length})`);
  }
  const nItems = meta.items.length;
  const popularity = new Float32Array(nItems);
  const firstSeen = new Float64Array(nItems).fill(Infinity);
  for (let p = 0; p < items.length; p++) {
    const i = items[p];
    if (i < 0 || i >= nItems) throw new Error(`${dir}/history.safetensors: event ${p} has item ${i} outside 0..${nItems - 1}`);
    popularity[i]++;
    if (times[p] < firstSeen[i]) firstSeen[i] = times[p];
  }
  for (let i = 0; i < nItems; i++) if (firstSeen[i] === Infinity) firstSeen[i] = 0;
  const label = versionLabel ?? dir.split('/').filter(Boolean).pop() ?? dir;
  return {
    name: checkpoint.name,
    version: `${label}@${checkpoint.savedAt}`,
    dir,
    model,
    sequential: isSequential(model),
    users: IdMap.fromRaw(meta.users),
    items: IdMap.fromRaw(meta.items),
    history: { nUsers, nItems, offsets, items, times },
    popularity,
    firstSeen,
    itemCategories: meta.itemCategories ?? meta.items.map(() => []),
    dataset: meta.dataset,
    fingerprint: meta.fingerprint,
  };
}
