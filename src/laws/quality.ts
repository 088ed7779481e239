/**
 * Data quality for the performance law: Approximate Entropy per user and per dataset (computed by
 * src/data/apen.ts), the paper's data proxy D′ = #tokens · ApEn, and — for comparison — the
 * Shannon entropy of item popularity, which measures how spread the consumption is across items
 * but, unlike ApEn, ignores the order of events.
 */
import type { Interactions } from '../data/types.ts';
import { datasetApen } from '../data/apen.ts';

/** ApEn options (see src/data/apen.ts). */
export interface ApenOptions {
  /** Window length m (default 2). */
  m?: number;
  /** Tolerance r (default 0: equal item ids). */
  r?: number;
  /** Use only each user's last `maxLen` events (default: all). */
  maxLen?: number;
}

/** Distribution summary of per-user values. */
export interface Quantiles {
  min: number;
  p10: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  max: number;
}

/** What `reclab law quality` reports. */
export interface DataQuality {
  users: number;
  items: number;
  interactions: number;
  apen: {
    /** Mean ApEn over users with at least m + 1 events (the dataset's ApEn). */
    mean: number;
    /** Users counted in the mean. */
    usersCounted: number;
    /** Quantiles of per-user ApEn over the counted users. */
    perUser: Quantiles;
    options: { m: number; r: number; maxLen: number | null };
  };
  /** D′ = (interactions / 10⁶) · mean ApEn: the law's data term, in millions of tokens × ApEn. */
  D: number;
  /** Shannon entropy of the item popularity distribution. */
  popularityEntropy: {
    /** H = −Σ p_i ln p_i over items with p_i = count_i / interactions, in nats. */
    nats: number;
    /** The same in bits. */
    bits: number;
    /** H / ln(#items with at least one event): 1 = uniform popularity, → 0 = one item takes all. */
    normalized: number;
  };
}

/**
 * Shannon entropy of item popularity: with p_i = (events of item i) / (all events),
 * H = −Σ_{p_i > 0} p_i ln p_i (nats). Returns 0 entropy for an empty log; `normalized` is NaN when
 * fewer than two items occur (no spread to measure).
 */
export function popularityEntropy(data: Interactions): DataQuality['popularityEntropy'] {
  const counts = new Float64Array(data.nItems);
  const total = data.offsets[data.nUsers];
  for (let e = 0; e < total; e++) counts[data.items[e]]++;
  let h = 0;
  let occurring = 0;
  for (let i = 0; i < data.nItems; i++) {
    if (counts[i] === 0) continue;
    occurring++;
    const p = counts[i] / total;
    h -= p * Math.log(p);
  }
  return { nats: h, bits: h / Math.LN2, normalized: occurring >= 2 ? h / Math.log(occurring) : NaN };
}

/** Quantile (linear interpolation between order statistics, as NumPy's default) of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Per-user ApEn, the dataset ApEn, D′ and the popularity entropy of `data`. */
export function dataQuality(data: Interactions, options: ApenOptions = {}): DataQuality & { perUserApen: Float64Array } {
  const m = options.m ?? 2;
  const r = options.r ?? 0;
  const { mean, perUser } = datasetApen(data, { m, r, maxLen: options.maxLen });
  const counted = Float64Array.from(perUser.filter((v) => !Number.isNaN(v))).sort();
  const q = (p: number) => quantileSorted(counted, p);
  const interactions = data.offsets[data.nUsers];
  return {
    users: data.nUsers,
    items: data.nItems,
    interactions,
    apen: {
      mean,
      usersCounted: counted.length,
      perUser: { min: q(0), p10: q(0.1), p25: q(0.25), median: q(0.5), p75: q(0.75), p90: q(0.9), max: q(1) },
      options: { m, r, maxLen: options.maxLen ?? null },
    },
    D: (interactions / 1e6) * mean,
    popularityEntropy: popularityEntropy(data),
    perUserApen: perUser,
  };
}
