/**
 * Evaluation metrics. Each metric is defined on one user's *ranking outcome* — the 0-based ranks
 * of the user's relevant (held-out) items among the candidates, plus the top-k list when the
 * metric looks at what was recommended — or, for catalogue-level metrics, on all users' lists.
 *
 * Notation for one user u: T = the relevant items (|T| ≥ 1), r_1 < r_2 < … the 0-based ranks of
 * the items of T among the candidates (rank 0 = first place), L_k = the top-k list, N = number of
 * candidates. A relevant item is a "hit at k" when its rank is < k.
 *
 * Ties: ranks come from the evaluator, which by default places a relevant item *below* every
 * candidate with an equal score (pessimistic), so a model that scores everything equal gets rank
 * N−1, not 0. See `evaluate.ts`.
 *
 * Users with no relevant item are not evaluated (the evaluator skips them), so no accuracy metric
 * ever divides by |T| = 0. Per-user values that are undefined (e.g. intra-list diversity of a
 * list with one item) are NaN and left out of means.
 */

/** One user's ranking outcome, what every per-user metric reads. */
export interface UserOutcome {
  /** 0-based ranks of the relevant items among the candidates, ascending. */
  ranks: ArrayLike<number>;
  /** |T|: number of relevant items (≥ 1). Equals ranks.length. */
  nRelevant: number;
  /** N: number of candidates ranked (relevant ones included). */
  nCandidates: number;
  /** The top-k list (k = the largest cutoff asked for), best first, when a list metric is asked for. */
  list?: Int32Array;
  /** For recommendation files: entries of the list that are not catalogue items (hallucinations). */
  unknown?: number;
  /** Total entries in the submitted list (known + unknown), for recommendation files. */
  listLength?: number;
}

/** A parsed metric name such as `ndcg@10`. */
export interface MetricSpec {
  /** Lowercase metric name, e.g. `ndcg`. */
  name: string;
  /** Cutoff, for metrics that have one. */
  k?: number;
  /** The canonical label, e.g. `ndcg@10`. */
  label: string;
}

/** Metrics computed per user from ranks alone. */
export const RANK_METRICS = ['hr', 'recall', 'precision', 'ndcg', 'mrr', 'map', 'auc', 'gauc'] as const;
/** Metrics computed per user from the top-k list (and catalogue statistics). */
export const LIST_METRICS = ['arp', 'aplt', 'aclt', 'novelty', 'serendipity', 'ild'] as const;
/** Metrics computed once over all users' lists (no per-user value). */
export const CATALOGUE_METRICS = ['coverage', 'gini', 'entropy', 'reo', 'dpd'] as const;
/** Metrics of recommendation files (LLM output). */
export const FILE_METRICS = ['hallucination'] as const;

const NO_CUTOFF = new Set(['auc', 'gauc', 'hallucination']);
const ALL = new Set<string>([...RANK_METRICS, ...LIST_METRICS, ...CATALOGUE_METRICS, ...FILE_METRICS]);

/** Parses `name@k` (or a cutoff-free name like `auc`), with a clear error for unknown names. */
export function parseMetric(label: string): MetricSpec {
  const m = /^([a-z_]+)(?:@(\d+))?$/.exec(label.trim().toLowerCase());
  if (!m || !ALL.has(m[1])) {
    throw new Error(`unknown metric "${label}"; known: ${[...ALL].map((n) => (NO_CUTOFF.has(n) ? n : `${n}@k`)).join(', ')}`);
  }
  const name = m[1];
  if (NO_CUTOFF.has(name)) {
    if (m[2] !== undefined) throw new Error(`metric "${label}": ${name} takes no cutoff (write "${name}")`);
    return { name, label: name };
  }
  if (m[2] === undefined) throw new Error(`metric "${label}" needs a cutoff, e.g. "${name}@10"`);
  const k = Number(m[2]);
  if (k < 1) throw new Error(`metric "${label}": cutoff must be ≥ 1`);
  return { name, k, label: `${name}@${k}` };
}

/** Number of relevant items ranked above cutoff k (hits). */
function hits(o: UserOutcome, k: number): number {
  let h = 0;
  while (h < o.ranks.length && o.ranks[h] < k) h++;
  return h;
}

/**
 * HR@k (hit ratio): 1 if any relevant item is in the top k, else 0.
 * `hr@k = 1[r_1 < k]`. With one relevant item (leave-one-out) HR@k equals Recall@k.
 */
export function hitRate(o: UserOutcome, k: number): number {
  return o.ranks.length > 0 && o.ranks[0] < k ? 1 : 0;
}

/** Recall@k: share of the relevant items found in the top k. `recall@k = |{i: r_i < k}| / |T|`. */
export function recall(o: UserOutcome, k: number): number {
  return hits(o, k) / o.nRelevant;
}

/**
 * Precision@k: share of the k slots holding a relevant item. `precision@k = |{i: r_i < k}| / k`.
 * The denominator is k even when fewer than k candidates exist (the empty slots count as misses),
 * which is the LensKit/RecBole convention.
 */
export function precision(o: UserOutcome, k: number): number {
  return hits(o, k) / k;
}

/**
 * NDCG@k with binary relevance: `DCG = Σ_{i: r_i < k} 1 / log2(r_i + 2)`,
 * `IDCG = Σ_{j=0}^{min(|T|,k)−1} 1 / log2(j + 2)`, `ndcg@k = DCG / IDCG`.
 * Example: one relevant item at rank 2 (third place) → 1/log2(4) = 0.5.
 */
export function ndcg(o: UserOutcome, k: number): number {
  let dcg = 0;
  for (let i = 0; i < o.ranks.length && o.ranks[i] < k; i++) dcg += 1 / Math.log2(o.ranks[i] + 2);
  let idcg = 0;
  const m = Math.min(o.nRelevant, k);
  for (let j = 0; j < m; j++) idcg += 1 / Math.log2(j + 2);
  return dcg / idcg;
}

/** MRR@k: reciprocal rank of the first relevant item, 0 if it is not in the top k. `mrr@k = 1[r_1 < k] / (r_1 + 1)`. */
export function mrr(o: UserOutcome, k: number): number {
  return o.ranks.length > 0 && o.ranks[0] < k ? 1 / (o.ranks[0] + 1) : 0;
}

/**
 * MAP@k (average precision at k): `ap@k = (1 / min(|T|, k)) · Σ_{i: r_i < k} i / (r_i + 1)` with
 * i the 1-based position of the hit among the hits (so i / (r_i + 1) is the precision at that
 * hit). Normalising by min(|T|, k) makes a perfect top-k score 1 (the RecBole / LensKit choice).
 */
export function averagePrecision(o: UserOutcome, k: number): number {
  let sum = 0;
  for (let i = 0; i < o.ranks.length && o.ranks[i] < k; i++) sum += (i + 1) / (o.ranks[i] + 1);
  return sum / Math.min(o.nRelevant, k);
}

/**
 * Per-user AUC: the share of (relevant, non-relevant) candidate pairs ordered correctly.
 * The i-th relevant item (0-based, in rank order) has `r_i − i` non-relevant items above it, so
 * `auc = 1 − Σ_i (r_i − i) / (|T| · (N − |T|))`. Ties count as wrong under the pessimistic rule.
 * A user with no non-relevant candidate has undefined AUC (NaN).
 */
export function auc(o: UserOutcome): number {
  const neg = o.nCandidates - o.nRelevant;
  if (neg <= 0) return NaN;
  let above = 0;
  // Clamped at neg: a relevant item missing from the candidates (rank MAX_SAFE_INTEGER) has every negative above it.
  for (let i = 0; i < o.ranks.length; i++) above += Math.min(o.ranks[i] - i, neg);
  return 1 - above / (o.nRelevant * neg);
}

/** Per-user value of a rank metric `spec` (hr, recall, precision, ndcg, mrr, map, auc, gauc). */
export function rankMetric(spec: MetricSpec, o: UserOutcome): number {
  const k = spec.k ?? 0;
  switch (spec.name) {
    case 'hr':
      return hitRate(o, k);
    case 'recall':
      return recall(o, k);
    case 'precision':
      return precision(o, k);
    case 'ndcg':
      return ndcg(o, k);
    case 'mrr':
      return mrr(o, k);
    case 'map':
      return averagePrecision(o, k);
    case 'auc':
    case 'gauc':
      return auc(o);
    default:
      throw new Error(`rankMetric: ${spec.label} is not a rank metric`);
  }
}

/**
 * Catalogue statistics computed from the train view, which list metrics read: popularity,
 * the short head / long tail split, and the popularity order (for serendipity's primitive
 * recommender).
 */
export interface CatalogueStats {
  nUsers: number;
  nItems: number;
  /** Train interactions per item. */
  itemCount: Float64Array;
  /** Distinct train users per item. */
  itemUsers: Float64Array;
  /** 1 for short-head items, 0 for long-tail items. */
  head: Uint8Array;
  /** Items by train popularity, most popular first (ties: lower id first). */
  byPopularity: Int32Array;
  /** Train events per user (user activity, for DPD). */
  userCount: Float64Array;
}

/**
 * Computes {@link CatalogueStats} from a train view. The short head is the smallest set of most
 * popular items that together receive at least `headShare` (default 0.2) of all train
 * interactions; every other item is long tail (Abdollahpouri et al., 2019, use the same kind of
 * interaction-share cut).
 */
export function catalogueStats(
  train: { nUsers: number; nItems: number; offsets: Int32Array; items: Int32Array },
  headShare = 0.2,
): CatalogueStats {
  const { nUsers, nItems } = train;
  const itemCount = new Float64Array(nItems);
  const itemUsers = new Float64Array(nItems);
  const userCount = new Float64Array(nUsers);
  const lastSeen = new Int32Array(nItems).fill(-1);
  for (let u = 0; u < nUsers; u++) {
    userCount[u] = train.offsets[u + 1] - train.offsets[u];
    for (let p = train.offsets[u]; p < train.offsets[u + 1]; p++) {
      const i = train.items[p];
      itemCount[i]++;
      if (lastSeen[i] !== u) {
        lastSeen[i] = u;
        itemUsers[i]++;
      }
    }
  }
  const byPopularity = Int32Array.from({ length: nItems }, (_, i) => i).sort((a, b) => itemCount[b] - itemCount[a] || a - b);
  const total = train.offsets[nUsers];
  const head = new Uint8Array(nItems);
  let acc = 0;
  for (let j = 0; j < nItems && acc < headShare * total; j++) {
    head[byPopularity[j]] = 1;
    acc += itemCount[byPopularity[j]];
  }
  return { nUsers, nItems, itemCount, itemUsers, head, byPopularity, userCount };
}

/**
 * Item features for intra-list diversity: either token sets (e.g. genres; distance = Jaccard
 * distance 1 − |A∩B| / |A∪B|) or dense vectors (distance = cosine distance 1 − cos(a, b)).
 */
export type ItemFeatures =
  | { kind: 'sets'; offsets: Int32Array; values: Int32Array }
  | { kind: 'vectors'; dim: number; values: Float32Array };

/** Distance between items a and b under `f` (see {@link ItemFeatures}). Two empty sets / zero vectors are at distance 0. */
export function itemDistance(f: ItemFeatures, a: number, b: number): number {
  if (f.kind === 'sets') {
    const sa = new Set(f.values.subarray(f.offsets[a], f.offsets[a + 1]));
    const sb = f.values.subarray(f.offsets[b], f.offsets[b + 1]);
    let inter = 0;
    const union = new Set(sa);
    for (const t of sb) {
      if (sa.has(t)) inter++;
      union.add(t);
    }
    return union.size === 0 ? 0 : 1 - inter / union.size;
  }
  const { dim, values } = f;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < dim; k++) {
    const x = values[a * dim + k];
    const y = values[b * dim + k];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : 1 - dot / Math.sqrt(na * nb);
}

/** What list metrics need besides the outcome: catalogue stats, the user's relevant items, the primitive list. */
export interface ListContext {
  stats: CatalogueStats;
  /** The user's relevant items. */
  relevant: ReadonlySet<number>;
  /** The popularity recommender's top-k for this user under the same exclusions (serendipity). */
  primitive?: ReadonlySet<number>;
  features?: ItemFeatures;
}

/**
 * Per-user value of a list metric on the first k entries of `list`:
 * - `arp@k` (average recommendation popularity, Yin et al. 2012): `Σ_{i∈L_k} count(i) / |L_k|`, count = train interactions.
 * - `aplt@k` (average percentage of long tail, Abdollahpouri et al. 2019): `|L_k ∩ tail| / |L_k|`.
 * - `aclt@k` (average coverage of long tail): `|L_k ∩ tail|` (a count, not a share).
 * - `novelty@k` (mean self-information, Zhou et al. 2010): `Σ_{i∈L_k} −log2(p_i) / |L_k|`, p_i = distinct
 *   train users of i / nUsers; items no train user saw get p_i = 1/nUsers (as if seen once).
 * - `serendipity@k` (Ge et al. 2010): `|{i ∈ L_k : i ∈ T, i ∉ PM_k}| / k`, PM_k = the popularity
 *   recommender's top-k for the user (relevant and unexpected).
 * - `ild@k` (intra-list diversity, Ziegler et al. 2005): mean distance over the |L_k|(|L_k|−1)/2
 *   pairs of L_k; NaN when |L_k| < 2 or no features are given.
 * An empty list gives NaN for the averages (the user is left out of the mean) and 0 for aclt.
 */
export function listMetric(spec: MetricSpec, list: Int32Array, ctx: ListContext): number {
  const k = spec.k ?? list.length;
  const l = list.subarray(0, Math.min(k, list.length));
  const n = l.length;
  const { stats } = ctx;
  switch (spec.name) {
    case 'arp': {
      let s = 0;
      for (const i of l) s += stats.itemCount[i];
      return n ? s / n : NaN;
    }
    case 'aplt':
    case 'aclt': {
      let t = 0;
      for (const i of l) if (!stats.head[i]) t++;
      return spec.name === 'aclt' ? t : n ? t / n : NaN;
    }
    case 'novelty': {
      let s = 0;
      for (const i of l) s += -Math.log2(Math.max(stats.itemUsers[i], 1) / stats.nUsers);
      return n ? s / n : NaN;
    }
    case 'serendipity': {
      let s = 0;
      for (const i of l) if (ctx.relevant.has(i) && !(ctx.primitive?.has(i) ?? false)) s++;
      return s / k;
    }
    case 'ild': {
      if (!ctx.features || n < 2) return NaN;
      let s = 0;
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) s += itemDistance(ctx.features, l[a], l[b]);
      return s / ((n * (n - 1)) / 2);
    }
    default:
      throw new Error(`listMetric: ${spec.label} is not a list metric`);
  }
}

/**
 * Exposure-based catalogue metrics from item exposure counts c_i (how many users' top-k lists
 * contain item i), over all n catalogue items:
 * - `coverage@k`: `|{i : c_i > 0}| / n` (share of the catalogue recommended to anyone).
 * - `gini@k`: with c sorted ascending, `G = Σ_{j=1}^{n} (2j − n − 1) c_(j) / (n Σ c)`; 0 when all
 *   items are equally exposed, (n−1)/n when one item takes all exposure; 0 when nothing is exposed.
 * - `entropy@k`: Shannon entropy of the exposure distribution in bits, `−Σ p_i log2 p_i`, p_i = c_i / Σ c.
 */
export function exposureMetric(name: 'coverage' | 'gini' | 'entropy', exposure: ArrayLike<number>): number {
  const n = exposure.length;
  if (n === 0) return NaN;
  let total = 0;
  let covered = 0;
  for (let i = 0; i < n; i++) {
    total += exposure[i];
    if (exposure[i] > 0) covered++;
  }
  if (name === 'coverage') return covered / n;
  if (total === 0) return name === 'gini' ? 0 : 0;
  if (name === 'entropy') {
    let h = 0;
    for (let i = 0; i < n; i++) if (exposure[i] > 0) h -= (exposure[i] / total) * Math.log2(exposure[i] / total);
    return h;
  }
  const sorted = Float64Array.from(exposure).sort();
  let g = 0;
  for (let j = 1; j <= n; j++) g += (2 * j - n - 1) * sorted[j - 1];
  return g / (n * total);
}

/**
 * Popularity-REO (ranking-based equal opportunity, Zhu et al. 2021) over the short-head and
 * long-tail item groups: for each group g, `P(g) = Σ_u |L_k(u) ∩ T_u ∩ g| / Σ_u |T_u ∩ g|`
 * (the recall of the group's relevant items), then `reo@k = std_g P(g) / mean_g P(g)` (population
 * std). 0 = both groups' relevant items are found equally often. Groups with no relevant item are
 * left out; NaN when fewer than two groups remain or the mean is 0.
 */
export function reo(hitsPerGroup: ArrayLike<number>, relevantPerGroup: ArrayLike<number>): number {
  const p: number[] = [];
  for (let g = 0; g < hitsPerGroup.length; g++) if (relevantPerGroup[g] > 0) p.push(hitsPerGroup[g] / relevantPerGroup[g]);
  if (p.length < 2) return NaN;
  const mean = p.reduce((a, b) => a + b, 0) / p.length;
  if (mean === 0) return NaN;
  const variance = p.reduce((a, b) => a + (b - mean) ** 2, 0) / p.length;
  return Math.sqrt(variance) / mean;
}

/**
 * DPD (demographic parity difference) of NDCG@k between active and inactive users (user-oriented
 * fairness, Li et al. 2021): active users are the top `activeShare` (default 5 %) by number of
 * train events; `dpd@k = |mean ndcg@k(active) − mean ndcg@k(inactive)|`. NaN when a group is empty.
 */
export function dpd(ndcgPerUser: ArrayLike<number>, activity: ArrayLike<number>, activeShare = 0.05): number {
  const n = ndcgPerUser.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => activity[b] - activity[a] || a - b);
  const nActive = Math.round(n * activeShare);
  if (nActive === 0 || nActive === n) return NaN;
  let a = 0;
  let b = 0;
  for (let j = 0; j < n; j++) {
    if (j < nActive) a += ndcgPerUser[order[j]];
    else b += ndcgPerUser[order[j]];
  }
  return Math.abs(a / nActive - b / (n - nActive));
}

/** Mean of the finite values of `xs` (NaN entries are users for whom the metric is undefined). */
export function nanMean(xs: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i])) {
      s += xs[i];
      n++;
    }
  }
  return n ? s / n : NaN;
}
