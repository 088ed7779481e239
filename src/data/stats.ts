/**
 * Dataset statistics, printed before anything trains (RecBole-style) and returned as JSON by
 * `reclab data describe --json`.
 *
 * - density = interactions / (users · items)
 * - seqLen: min / mean / median / max of events per user (median of an even count = mean of
 *   the two middle values)
 * - giniPopularity: Gini coefficient of item interaction counts c_1 ≤ … ≤ c_n (n = items):
 *   G = Σ_i (2i − n − 1) c_i / (n Σ_i c_i); 0 = every item equally popular, → 1 = all on one item
 * - longTailShare: share of interactions on the long tail, i.e. outside the short head — the
 *   ⌈20 %⌉ most popular items (ties broken by item id)
 * - apen: mean Approximate Entropy of user item sequences (see apen.ts), with m, r, maxLen
 *   reported in `apenOptions`
 */
import type { Dataset, Interactions } from './types.ts';
import { datasetApen } from './apen.ts';

export interface DescribeOptions {
  /** ApEn window length (default 2). */
  apenM?: number;
  /** ApEn tolerance (default 0: equal ids). */
  apenR?: number;
  /** Use only each user's last `apenMaxLen` events for ApEn (default: all). */
  apenMaxLen?: number;
  /** Share of items counted as the short head (default 0.2). */
  headShare?: number;
}

export interface DatasetStats {
  name?: string;
  fingerprint?: string;
  format?: string;
  users: number;
  items: number;
  interactions: number;
  density: number;
  seqLen: { min: number; mean: number; median: number; max: number };
  itemPop: { min: number; mean: number; median: number; max: number };
  giniPopularity: number;
  longTailShare: number;
  headShare: number;
  apen: number;
  apenOptions: { m: number; r: number; maxLen: number | null; usersCounted: number };
  hasTime: boolean;
  timeRange?: { first: string; last: string };
  ratings?: { min: number; max: number; mean: number };
  /** Repeated (user, item) pairs: events beyond the first per pair. */
  repeatInteractions: number;
  preparation?: Record<string, unknown>;
}

function summary(values: Int32Array): { min: number; mean: number; median: number; max: number } {
  if (values.length === 0) return { min: 0, mean: 0, median: 0, max: 0 };
  const sorted = Int32Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (let k = 0; k < n; k++) sum += sorted[k];
  const median = n % 2 ? sorted[n >> 1] : (sorted[(n >> 1) - 1] + sorted[n >> 1]) / 2;
  return { min: sorted[0], mean: sum / n, median, max: sorted[n - 1] };
}

/** Gini coefficient of non-negative counts. */
export function gini(counts: ArrayLike<number>): number {
  const sorted = Float64Array.from(counts).sort();
  const n = sorted.length;
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    total += sorted[i];
    weighted += (2 * (i + 1) - n - 1) * sorted[i];
  }
  return n === 0 || total === 0 ? 0 : weighted / (n * total);
}

/** Statistics of a dataset or a view (see the file comment for the formulas). */
export function describeDataset(d: Dataset | Interactions, options: DescribeOptions = {}): DatasetStats {
  const { nUsers, nItems, offsets, items } = d;
  const n = offsets[nUsers];
  const lengths = new Int32Array(nUsers);
  for (let u = 0; u < nUsers; u++) lengths[u] = offsets[u + 1] - offsets[u];
  const pop = new Int32Array(nItems);
  for (let p = 0; p < n; p++) pop[items[p]]++;
  const headShare = options.headShare ?? 0.2;
  const headCount = Math.ceil(nItems * headShare);
  const order = Array.from({ length: nItems }, (_, i) => i).sort((a, b) => pop[b] - pop[a] || a - b);
  let head = 0;
  for (let k = 0; k < headCount; k++) head += pop[order[k]];
  // Repeats: per user, items seen before.
  let repeats = 0;
  const stamp = new Int32Array(nItems).fill(-1);
  for (let u = 0; u < nUsers; u++) {
    for (let p = offsets[u]; p < offsets[u + 1]; p++) {
      if (stamp[items[p]] === u) repeats++;
      else stamp[items[p]] = u;
    }
  }
  const m = options.apenM ?? 2;
  const r = options.apenR ?? 0;
  const ap = datasetApen(d, { m, r, maxLen: options.apenMaxLen });
  let counted = 0;
  for (const v of ap.perUser) if (!Number.isNaN(v)) counted++;
  const stats: DatasetStats = {
    users: nUsers,
    items: nItems,
    interactions: n,
    density: nUsers > 0 && nItems > 0 ? n / (nUsers * nItems) : 0,
    seqLen: summary(lengths),
    itemPop: summary(pop),
    giniPopularity: gini(pop),
    longTailShare: n > 0 ? (n - head) / n : 0,
    headShare,
    apen: ap.mean,
    apenOptions: { m, r, maxLen: options.apenMaxLen ?? null, usersCounted: counted },
    hasTime: 'hasTime' in d ? d.hasTime : true,
    repeatInteractions: repeats,
  };
  if ('fingerprint' in d) {
    stats.name = d.name;
    stats.fingerprint = d.fingerprint;
    stats.format = d.provenance.format;
    stats.preparation = d.provenance.preparation;
  }
  if (stats.hasTime && n > 0) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let p = 0; p < n; p++) {
      const t = d.times[p];
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    stats.timeRange = { first: isoTime(lo), last: isoTime(hi) };
  }
  if (d.values && n > 0) {
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    for (let p = 0; p < n; p++) {
      const v = d.values[p];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
    }
    stats.ratings = { min: lo, max: hi, mean: sum / n };
  }
  return stats;
}

function isoTime(t: number): string {
  const date = new Date(t * 1000);
  return Number.isNaN(date.getTime()) ? String(t) : date.toISOString();
}

function fmt(x: number, digits = 4): string {
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  if (Math.abs(x) < 1e-3 && x !== 0) return x.toExponential(3);
  return x.toFixed(digits);
}

/** The statistics as an aligned two-column table for the terminal. */
export function formatStats(s: DatasetStats): string {
  const rows: [string, string][] = [];
  if (s.name) rows.push(['dataset', `${s.name}${s.format ? ` (${s.format})` : ''}`]);
  rows.push(['users', fmt(s.users)], ['items', fmt(s.items)], ['interactions', fmt(s.interactions)]);
  rows.push(['density', `${fmt(s.density * 100, 3)} %`]);
  rows.push(['seq length min/mean/median/max', `${s.seqLen.min} / ${s.seqLen.mean.toFixed(2)} / ${s.seqLen.median} / ${s.seqLen.max}`]);
  rows.push(['item popularity min/mean/median/max', `${s.itemPop.min} / ${s.itemPop.mean.toFixed(2)} / ${s.itemPop.median} / ${s.itemPop.max}`]);
  rows.push(['popularity Gini', s.giniPopularity.toFixed(4)]);
  rows.push([`long-tail share (outside top ${Math.round(s.headShare * 100)} % items)`, `${(s.longTailShare * 100).toFixed(2)} %`]);
  rows.push([`ApEn (m=${s.apenOptions.m}, r=${s.apenOptions.r}${s.apenOptions.maxLen ? `, last ${s.apenOptions.maxLen}` : ''})`, Number.isNaN(s.apen) ? 'n/a' : s.apen.toFixed(6)]);
  rows.push(['repeat interactions', fmt(s.repeatInteractions)]);
  if (s.ratings) rows.push(['ratings min/mean/max', `${s.ratings.min} / ${s.ratings.mean.toFixed(3)} / ${s.ratings.max}`]);
  rows.push(['time', s.timeRange ? `${s.timeRange.first.slice(0, 10)} … ${s.timeRange.last.slice(0, 10)}` : 'none (event order only)']);
  if (s.fingerprint) rows.push(['fingerprint', s.fingerprint.slice(0, 16)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
