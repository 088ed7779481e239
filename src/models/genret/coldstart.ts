/**
 * The cold-start experiment of generative retrieval: a fraction of the items is removed from
 * training (every event of theirs leaves the train and valid views), the models train on the
 * rest, and Recall@K is measured on the test events whose target is such a cold item — which a
 * model that learns one vector per item (SASRec) has never seen, while a model that generates
 * content IDs (TIGER with RQ-VAE text IDs) can still produce. The rest of the test events are
 * scored too, for the price paid on warm items.
 */
import type { Interactions } from '../../data/types.ts';
import type { Recommender } from '../recommender.ts';
import { Rng } from '../../util/rng.ts';

/** Interactions without the events of `drop`ped items (same users and item ids). */
export function withoutItems(data: Interactions, drop: Uint8Array): Interactions {
  const offsets = new Int32Array(data.nUsers + 1);
  const keep: number[] = [];
  for (let u = 0; u < data.nUsers; u++) {
    for (let e = data.offsets[u]; e < data.offsets[u + 1]; e++) if (!drop[data.items[e]]) keep.push(e);
    offsets[u + 1] = keep.length;
  }
  const idx = Int32Array.from(keep);
  return {
    nUsers: data.nUsers, nItems: data.nItems, offsets,
    items: idx.map((e) => data.items[e]), times: Float64Array.from(idx, (e) => data.times[e]),
    values: data.values ? Float32Array.from(idx, (e) => data.values![e]) : undefined,
  };
}

/** Picks round(fraction·n) cold items uniformly (seeded) among all items. */
export function pickColdItems(test: Interactions, fraction: number, seed: number): Uint8Array {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`cold-start fraction must be in (0, 1), got ${fraction}`);
  const cold = new Uint8Array(test.nItems);
  const ids = Int32Array.from({ length: test.nItems }, (_, i) => i);
  new Rng(seed).shuffle(ids);
  const k = Math.round(fraction * test.nItems);
  for (let i = 0; i < k; i++) cold[ids[i]] = 1;
  return cold;
}

/** Recall@K over test events split by whether the target is cold. */
export interface ColdRecall {
  k: number;
  coldEvents: number;
  coldRecall: number;
  warmEvents: number;
  warmRecall: number;
}

/**
 * Scores every test user (history = `history`, whose items are excluded from the ranking), and
 * counts a hit when the test item ranks in the top K with pessimistic ties (items scoring ≥ the
 * target, other than the target, rank before it). With `maxWarm`, every user with a cold target
 * is scored but only a seeded sample of at most `maxWarm` of the others: the cold events are the
 * point, and a beam-search model costs tens of ms a user.
 */
export function coldRecall(model: Recommender, history: Interactions, test: Interactions, cold: Uint8Array, k: number,
  onUser?: (done: number, total: number) => void, sample: { maxWarm?: number; seed?: number } = {}): ColdRecall {
  const n = test.nItems;
  let users: number[] = [];
  for (let u = 0; u < test.nUsers; u++) if (test.offsets[u + 1] > test.offsets[u]) users.push(u);
  if (sample.maxWarm !== undefined) {
    const warm = Int32Array.from(users.filter((u) => !cold[test.items[test.offsets[u]]]));
    const keep = new Set(new Rng(sample.seed ?? 0).shuffle(warm).subarray(0, sample.maxWarm));
    users = users.filter((u) => cold[test.items[test.offsets[u]]] || keep.has(u));
  }
  const out = new Float32Array(n);
  let coldN = 0, coldHit = 0, warmN = 0, warmHit = 0;
  users.forEach((u, i) => {
    model.scoreUsers(Int32Array.of(u), history, out);
    const seen = new Set(history.items.subarray(history.offsets[u], history.offsets[u + 1]));
    const target = test.items[test.offsets[u]];
    const s = out[target];
    let before = 0;
    for (let j = 0; j < n && before < k; j++) if (j !== target && !seen.has(j) && out[j] >= s) before++;
    const hit = before < k ? 1 : 0;
    if (cold[target]) {
      coldN++;
      coldHit += hit;
    } else {
      warmN++;
      warmHit += hit;
    }
    onUser?.(i + 1, users.length);
  });
  return { k, coldEvents: coldN, coldRecall: coldN ? coldHit / coldN : 0, warmEvents: warmN, warmRecall: warmN ? warmHit / warmN : 0 };
}
