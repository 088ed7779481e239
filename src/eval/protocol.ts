/**
 * Evaluation protocols: which candidates each user's held-out items are ranked against.
 *
 * - `full`: every catalogue item except the user's history (train items; train and validation
 *   items at test time). The modern protocol (Krichene & Rendle 2020 showed sampled metrics can
 *   reorder models).
 * - `uniN` / `popN` (sampled): the relevant items plus N negatives per user, drawn uniformly or
 *   proportionally to train popularity from items the user never interacted with (the SASRec /
 *   BERT4Rec convention: not in the user's whole history). Candidates are fixed per user by the
 *   seed alone — independent of the model and of which other users are evaluated — so every
 *   model ranks exactly the same lists.
 * - `popN:all`: popularity counted on every event of the dataset (train, validation and test),
 *   as FeiSun/BERT4Rec's data generator does (its vocabulary counts whole sequences, held-out
 *   items included); `popN` (= `popN:train`) counts train events only, so a model's test item
 *   cannot make its own negatives more likely. The two draw different lists; results name which.
 * - `rerank`: candidate lists given from outside (e.g. a first-stage retriever's output).
 */
import type { Interactions } from '../data/types.ts';
import { Rng } from '../nn/rng.ts';

/** Per-user candidate lists in CSR form: user u's candidates are `items[offsets[u] .. offsets[u+1])`. */
export interface CandidateLists {
  offsets: Int32Array;
  items: Int32Array;
}

/** A candidate protocol. */
export type Protocol =
  | { kind: 'full' }
  | {
      kind: 'sampled';
      sampler: 'uniform' | 'popularity';
      n: number;
      seed: number;
      /** Events popularity is counted on (popularity sampler): `train` (default) or `all` (every view in `seen`). */
      countOn?: 'train' | 'all';
    }
  | { kind: 'rerank'; candidates: CandidateLists };

/**
 * Parses `full`, `uni100`, `pop100` (any N; `pop100:train` is the same, `pop100:all` counts
 * popularity on every event), or `rerank` (then `candidates` must be given).
 */
export function parseProtocol(text: string, seed = 0, candidates?: CandidateLists): Protocol {
  const t = text.trim().toLowerCase();
  if (t === 'full') return { kind: 'full' };
  const m = /^(uni|pop)(\d+)(?::(train|all))?$/.exec(t);
  if (m) {
    const n = Number(m[2]);
    if (n < 1) throw new Error(`protocol "${text}": number of negatives must be ≥ 1`);
    if (m[1] === 'uni' && m[3]) throw new Error(`protocol "${text}": ":${m[3]}" applies to popularity sampling (popN) only`);
    if (m[3] === 'all') return { kind: 'sampled', sampler: 'popularity', n, seed, countOn: 'all' };
    return { kind: 'sampled', sampler: m[1] === 'uni' ? 'uniform' : 'popularity', n, seed };
  }
  if (t === 'rerank') {
    if (!candidates) throw new Error('protocol "rerank" needs candidate lists (a candidates file)');
    return { kind: 'rerank', candidates };
  }
  throw new Error(`unknown protocol "${text}"; expected full, uniN (e.g. uni100), popN (e.g. pop100, pop100:all) or rerank`);
}

/** Short name of a protocol as recorded in results: `full`, `uni100`, `pop100`, `pop100:all`, `rerank`. */
export function protocolName(p: Protocol): string {
  if (p.kind === 'full') return 'full';
  if (p.kind === 'sampled') return `${p.sampler === 'uniform' ? 'uni' : 'pop'}${p.n}${p.sampler === 'popularity' && p.countOn === 'all' ? ':all' : ''}`;
  return 'rerank';
}

/** The distinct items of user u across `views`, as a Set. */
function userHistory(views: readonly Interactions[], u: number): Set<number> {
  const s = new Set<number>();
  for (const v of views) for (let p = v.offsets[u]; p < v.offsets[u + 1]; p++) s.add(v.items[p]);
  return s;
}

/**
 * Draws the candidate lists of a sampled protocol for `users`: each user's distinct relevant items
 * (from `targets`) first, then up to `n` distinct negatives not in `seen` (the user's whole
 * history). Uniform negatives are equally likely; popularity negatives are drawn with probability
 * proportional to interaction counts in `train` (or, with `countOn: 'all'`, summed over every view
 * in `seen`, which then must hold the whole dataset); items never counted cannot be drawn. When fewer
 * than `n` eligible negatives exist the user gets all of them. User u's draws come from a stream
 * seeded by (seed, u), so they do not depend on the other users.
 */
export function sampleCandidates(
  protocol: Extract<Protocol, { kind: 'sampled' }>,
  users: Int32Array,
  targets: Interactions,
  seen: readonly Interactions[],
  train: Interactions,
): CandidateLists {
  const nItems = targets.nItems;
  const cdf = new Float64Array(nItems);
  if (protocol.sampler === 'popularity') {
    const counts = new Float64Array(nItems);
    for (const view of protocol.countOn === 'all' ? seen : [train]) {
      for (let p = 0; p < view.items.length; p++) counts[view.items[p]]++;
    }
    let acc = 0;
    for (let i = 0; i < nItems; i++) cdf[i] = acc += counts[i];
  }
  const total = protocol.sampler === 'popularity' ? cdf[nItems - 1] : 0;
  // Items that can be drawn at all (uniform: every item; popularity: counted at least once).
  const drawable = (i: number): boolean => protocol.sampler === 'uniform' || cdf[i] > (i ? cdf[i - 1] : 0);
  let nDrawable = 0;
  for (let i = 0; i < nItems; i++) if (drawable(i)) nDrawable++;
  const lists: number[][] = [];
  for (const u of users) {
    const rng = new Rng(protocol.seed * 1_000_003 + u);
    const rel = [...new Set(targets.items.subarray(targets.offsets[u], targets.offsets[u + 1]))];
    const excluded = userHistory(seen, u);
    for (const t of rel) excluded.add(t);
    const list = [...rel];
    const chosen = new Set<number>();
    let eligible = nDrawable;
    for (const i of excluded) if (drawable(i)) eligible--;
    const want = Math.min(protocol.n, eligible);
    if (want === eligible && want < protocol.n) {
      // Few eligible items: take them all (deterministic order).
      for (let i = 0; i < nItems; i++) {
        if (!excluded.has(i) && drawable(i)) list.push(i);
      }
    } else {
      while (chosen.size < want) {
        let i: number;
        if (protocol.sampler === 'uniform') i = rng.int(nItems);
        else i = upperBound(cdf, rng.next() * total);
        if (excluded.has(i) || chosen.has(i)) continue;
        chosen.add(i);
        list.push(i);
      }
    }
    lists.push(list);
  }
  return toCsr(users, lists, targets.nUsers);
}

/** First index i with cdf[i] > x (cdf non-decreasing). */
function upperBound(cdf: Float64Array, x: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Builds CSR candidate lists over all `nUsers` users from lists given for `users` (others empty). */
export function toCsr(users: Int32Array, lists: readonly (readonly number[])[], nUsers: number): CandidateLists {
  const len = new Int32Array(nUsers);
  users.forEach((u, j) => (len[u] = lists[j].length));
  const offsets = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) offsets[u + 1] = offsets[u] + len[u];
  const items = new Int32Array(offsets[nUsers]);
  users.forEach((u, j) => items.set(lists[j], offsets[u]));
  return { offsets, items };
}
