/**
 * The Data page's data: `describeDataset` (the same statistics as `reclab data describe`: Gini,
 * ApEn, long-tail share…), the popularity long tail (item count by rank, for a log-log plot), the
 * histogram of sequence lengths, and the sizes of the leave-one-out split.
 */
import { loadDatasetWithInfo, type DataSpec } from '../../data/load.ts';
import { describeDataset, type DatasetStats } from '../../data/stats.ts';
import { splitDataset } from '../../data/split.ts';
import type { Dataset } from '../../data/types.ts';

/** What the page plots and prints for one dataset. */
export interface DataView {
  name: string;
  stats: DatasetStats;
  /** Item counts, most popular first, at ranks `rank` (1-based; thinned on a log scale for large catalogues). */
  longTail: { rank: number[]; count: number[] };
  /** Users per sequence length bin: `[lo, hi)` edges and counts. */
  seqHist: { lo: number[]; hi: number[]; users: number[] };
  split: { protocol: string; train: number; valid: number; test: number };
}

/** Ranks 1..n thinned to about `points` on a log scale (all of them when n is small). */
function logRanks(n: number, points = 400): number[] {
  if (n <= points) return Array.from({ length: n }, (_, i) => i + 1);
  const out = new Set<number>();
  for (let k = 0; k < points; k++) out.add(Math.round(Math.exp((Math.log(n) * k) / (points - 1))));
  return [...out].sort((a, b) => a - b);
}

/** The page's figures of a loaded dataset. */
export function dataView(d: Dataset): DataView {
  const stats = describeDataset(d);
  const counts = new Float64Array(d.nItems);
  for (let p = 0; p < d.items.length; p++) counts[d.items[p]]++;
  const sorted = Float64Array.from(counts).sort().reverse();
  const rank = logRanks(d.nItems).filter((r) => sorted[r - 1] > 0);
  const lengths = Array.from({ length: d.nUsers }, (_, u) => d.offsets[u + 1] - d.offsets[u]);
  const maxLen = Math.max(1, ...lengths);
  // Bins of equal width on a log scale: sequence lengths are long-tailed too.
  const nBins = Math.min(30, maxLen);
  const edges = [...new Set(Array.from({ length: nBins + 1 }, (_, k) => Math.round(Math.exp((Math.log(maxLen + 1) * k) / nBins))))];
  const users = new Array<number>(edges.length - 1).fill(0);
  for (const len of lengths) {
    let b = edges.length - 2;
    while (b > 0 && len < edges[b]) b--;
    users[b]++;
  }
  const split = splitDataset(d, { kind: 'loo' });
  return {
    name: d.name,
    stats,
    longTail: { rank, count: rank.map((r) => sorted[r - 1]) },
    seqHist: { lo: edges.slice(0, -1), hi: edges.slice(1), users },
    split: { protocol: split.protocol.description, train: split.train.items.length, valid: split.valid.items.length, test: split.test.items.length },
  };
}

/** Loads each named dataset once, on first request, and keeps its view. */
export class DataViews {
  private readonly views = new Map<string, Promise<DataView>>();
  constructor(private readonly specs: Readonly<Record<string, DataSpec>>) {}

  /** Names the page can ask for. */
  names(): string[] {
    return Object.keys(this.specs);
  }

  /** The view of dataset `name`; undefined for a name not configured. */
  get(name: string): Promise<DataView> | undefined {
    const spec = Object.hasOwn(this.specs, name) ? this.specs[name] : undefined;
    if (!spec) return undefined;
    let v = this.views.get(name);
    if (!v) {
      v = loadDatasetWithInfo(spec).then(({ dataset }) => dataView(dataset));
      v.catch(() => this.views.delete(name)); // a failed load may succeed later (a file being written)
      this.views.set(name, v);
    }
    return v;
  }
}
