/**
 * A generated catalogue shaped like a trained factor model's, for measuring the ANN path at sizes
 * no shared dataset reaches (a million items): item vectors drawn around cluster centres (taste
 * groups) with a decaying spectrum over the dimensions, as learnt embeddings have, users drawn
 * around one centre each, each item in one category (mostly its cluster's), and each user's
 * history a handful of items of their own cluster (so excluding it removes items that would
 * otherwise rank high) plus a few from anywhere.
 *
 * Pure isotropic Gaussian vectors would be the worst case for any graph index and unlike any
 * trained model; docs/scale.md says which catalogue the figures are on.
 */
import { Rng } from '../util/rng.ts';

/** A generated catalogue with its users. */
export interface SyntheticCatalogue {
  n: number;
  d: number;
  /** Item vectors [n × d], row-major. */
  items: Float32Array;
  /** Category of each item (0 … categories − 1). */
  category: Uint16Array;
  /** Cluster of each item. */
  cluster: Int32Array;
  /** Query vectors [users × d]. */
  users: Float32Array;
  /** Each user's history (item ids). */
  history: Int32Array[];
  categories: number;
}

/** Options of {@link syntheticCatalogue}. */
export interface SyntheticOptions {
  n: number;
  d: number;
  users: number;
  clusters?: number;
  categories?: number;
  /** History items per user from their own cluster / from anywhere. */
  historyOwn?: number;
  historyAny?: number;
  seed?: number;
}

/** Generates the catalogue (deterministic in `seed`). */
export function syntheticCatalogue(o: SyntheticOptions): SyntheticCatalogue {
  const { n, d } = o;
  const clusters = o.clusters ?? 1024;
  const categories = o.categories ?? 32;
  const rng = new Rng(o.seed ?? 7);
  // Learnt embeddings put most of their variance in a few directions.
  const scale = Float32Array.from({ length: d }, (_, j) => 1 / Math.sqrt(1 + j / 8));
  const centres = new Float32Array(clusters * d);
  for (let c = 0; c < clusters; c++) for (let j = 0; j < d; j++) centres[c * d + j] = rng.normal() * scale[j];
  const items = new Float32Array(n * d);
  const cluster = new Int32Array(n);
  const category = new Uint16Array(n);
  const members: number[][] = Array.from({ length: clusters }, () => []);
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters);
    cluster[i] = c;
    members[c].push(i);
    category[i] = rng.next() < 0.8 ? c % categories : rng.int(categories);
    for (let j = 0; j < d; j++) items[i * d + j] = centres[c * d + j] + 0.6 * rng.normal() * scale[j];
  }
  const users = new Float32Array(o.users * d);
  const history: Int32Array[] = [];
  for (let u = 0; u < o.users; u++) {
    const c = rng.int(clusters);
    for (let j = 0; j < d; j++) users[u * d + j] = centres[c * d + j] + 0.6 * rng.normal() * scale[j];
    const own = members[c];
    const h: number[] = [];
    for (let t = 0; t < (o.historyOwn ?? 10) && own.length > 0; t++) h.push(own[rng.int(own.length)]);
    for (let t = 0; t < (o.historyAny ?? 5); t++) h.push(rng.int(n));
    history.push(Int32Array.from(new Set(h)));
  }
  return { n, d, items, category, cluster, users, history, categories };
}
