/**
 * A realistic synthetic interaction log, for running everything offline and for benchmarks.
 *
 * The generative story (all draws from one seeded stream):
 * - Items have Zipf popularity: the item of popularity rank k has weight 1/(k+1)^α (α =
 *   `popularityExponent`, default 1), ranks assigned to ids at random.
 * - Items live in latent clusters (genres). Each cluster has 3 successor clusters. A user moves
 *   between clusters as a Markov chain: stay (`pStay`, 0.55), go to a successor (0.3), or jump to a
 *   popularity-weighted random item anywhere (the rest).
 * - Each item has 2 "follow-up" items (in its cluster or a successor cluster, popularity-weighted).
 *   With probability `pFollow` (0.35) the next event is a follow-up of the previous item — the
 *   item-to-item structure sequential models can learn and Pop cannot.
 * - Each user starts in a home cluster (drawn by cluster mass) and never repeats an item.
 * - User activity is heavy-tailed: lengths are lognormal (σ = `activitySigma`, 1.0), at least
 *   `minLength` (5), scaled so the total is `interactions`.
 * - Times: a user starts at a uniform time in 2015–2017; gaps are 10 minutes on average within a
 *   session (70 %) and 5 days between sessions. Ratings 1–5 from item quality + user bias + noise.
 */
import { IdMap } from './types.ts';
import type { Dataset } from './types.ts';
import { DataRng } from './random.ts';
import { SideBuilder } from './builder.ts';
import { canonicalJson, sha256Text } from './source.ts';

export interface SyntheticOptions {
  users: number;
  items: number;
  interactions: number;
  seed: number;
  /** Latent clusters (default: round(√items / 2) within 4..200). */
  clusters?: number;
  popularityExponent?: number;
  activitySigma?: number;
  minLength?: number;
  pStay?: number;
  pFollow?: number;
  name?: string;
}

type Normalized = Required<Omit<SyntheticOptions, 'name'>>;

function normalize(o: SyntheticOptions): Normalized {
  for (const k of ['users', 'items', 'interactions'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`generateSynthetic: ${k} must be a positive integer, got ${o[k]}`);
  }
  const minLength = o.minLength ?? 5;
  if (o.interactions < o.users * Math.min(minLength, o.items)) {
    throw new RangeError(`generateSynthetic: ${o.interactions} interactions cannot give ${o.users} users ${minLength} events each`);
  }
  return {
    users: o.users,
    items: o.items,
    interactions: o.interactions,
    seed: o.seed,
    clusters: o.clusters ?? Math.max(4, Math.min(200, Math.round(Math.sqrt(o.items) / 2))),
    popularityExponent: o.popularityExponent ?? 1,
    activitySigma: o.activitySigma ?? 1,
    minLength,
    pStay: o.pStay ?? 0.55,
    pFollow: o.pFollow ?? 0.35,
  };
}

/** Samples an index from a cumulative weight array (binary search). */
function sampleCdf(cdf: Float64Array, from: number, to: number, u: number): number {
  const target = from === 0 ? u * cdf[to - 1] : cdf[from - 1] + u * (cdf[to - 1] - cdf[from - 1]);
  let lo = from;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One generated event; `user` and `item` are 0-based. */
export type SyntheticEmit = (user: number, item: number, time: number, rating: number) => void;

/** The item → cluster assignment of a generator configuration. */
export interface SyntheticModel {
  options: Normalized;
  itemCluster: Int32Array;
}

/**
 * Runs the generative story, calling `emit` for each event, user by user, each user's events in
 * time order. Returns the model (cluster of each item).
 */
export function syntheticEvents(options: SyntheticOptions, emit: SyntheticEmit): SyntheticModel {
  const o = normalize(options);
  const rng = new DataRng(o.seed);
  const { users: U, items: I, clusters: C } = o;
  // Popularity weights by random rank.
  const rankOf = new Int32Array(I);
  for (let i = 0; i < I; i++) rankOf[i] = i;
  for (let i = I - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = rankOf[i];
    rankOf[i] = rankOf[j];
    rankOf[j] = t;
  }
  const weight = new Float64Array(I);
  for (let i = 0; i < I; i++) weight[i] = 1 / Math.pow(rankOf[i] + 1, o.popularityExponent);
  const quality = new Float64Array(I);
  for (let i = 0; i < I; i++) quality[i] = 0.6 * rng.normal();
  // Clusters: items grouped contiguously in `byCluster`, with a CDF per cluster range.
  const itemCluster = new Int32Array(I);
  for (let i = 0; i < I; i++) itemCluster[i] = rng.int(C);
  const clusterStart = new Int32Array(C + 1);
  for (let i = 0; i < I; i++) clusterStart[itemCluster[i] + 1]++;
  for (let c = 0; c < C; c++) clusterStart[c + 1] += clusterStart[c];
  const byCluster = new Int32Array(I);
  const fill = clusterStart.slice(0, C);
  for (let i = 0; i < I; i++) byCluster[fill[itemCluster[i]]++] = i;
  const clusterCdf = new Float64Array(I);
  const clusterMass = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let acc = 0;
    for (let k = clusterStart[c]; k < clusterStart[c + 1]; k++) {
      acc += weight[byCluster[k]];
      clusterCdf[k] = acc;
    }
    clusterMass[c] = acc;
  }
  const globalCdf = new Float64Array(I);
  let acc = 0;
  for (let i = 0; i < I; i++) {
    acc += weight[i];
    globalCdf[i] = acc;
  }
  const massCdf = new Float64Array(C);
  acc = 0;
  for (let c = 0; c < C; c++) {
    acc += clusterMass[c];
    massCdf[c] = acc;
  }
  const nonEmpty = (c: number): boolean => clusterStart[c + 1] > clusterStart[c];
  const successors = new Int32Array(C * 3);
  for (let c = 0; c < C; c++) for (let k = 0; k < 3; k++) successors[c * 3 + k] = sampleCdf(massCdf, 0, C, rng.next());
  const sampleInCluster = (c: number): number => {
    if (!nonEmpty(c)) return sampleCdf(globalCdf, 0, I, rng.next());
    return byCluster[sampleCdf(clusterCdf, clusterStart[c], clusterStart[c + 1], rng.next())];
  };
  const followUps = new Int32Array(I * 2);
  for (let i = 0; i < I; i++) {
    const c = itemCluster[i];
    followUps[i * 2] = sampleInCluster(c);
    followUps[i * 2 + 1] = sampleInCluster(successors[c * 3 + rng.int(3)]);
  }
  // Heavy-tailed lengths summing to `interactions`.
  const maxLen = Math.max(o.minLength, Math.floor(I * 0.5));
  const raw = new Float64Array(U);
  let rawSum = 0;
  for (let u = 0; u < U; u++) {
    raw[u] = Math.exp(o.activitySigma * rng.normal());
    rawSum += raw[u];
  }
  const spare = o.interactions - U * o.minLength;
  const lengths = new Int32Array(U);
  let total = 0;
  for (let u = 0; u < U; u++) {
    lengths[u] = Math.min(maxLen, o.minLength + Math.floor((raw[u] / rawSum) * spare));
    total += lengths[u];
  }
  for (let guard = 0; total < o.interactions && guard < o.interactions * 4; guard++) {
    const u = rng.int(U);
    if (lengths[u] < maxLen) {
      lengths[u]++;
      total++;
    }
  }
  const seen = new Int32Array(I).fill(-1);
  const T0 = Date.UTC(2015, 0, 1) / 1000;
  const span = 3 * 365 * 86400;
  for (let u = 0; u < U; u++) {
    const bias = 0.4 * rng.normal();
    let t = Math.floor(T0 + rng.next() * span * 0.8);
    let cluster = sampleCdf(massCdf, 0, C, rng.next());
    let prev = -1;
    for (let k = 0; k < lengths[u]; k++) {
      let item = -1;
      for (let attempt = 0; attempt < 12 && item < 0; attempt++) {
        let cand: number;
        const x = rng.next();
        if (prev >= 0 && x < o.pFollow) cand = followUps[prev * 2 + rng.int(2)];
        else {
          const y = rng.next();
          if (y < o.pStay) cand = sampleInCluster(cluster);
          else if (y < o.pStay + 0.3) cand = sampleInCluster(successors[cluster * 3 + rng.int(3)]);
          else cand = sampleCdf(globalCdf, 0, I, rng.next());
        }
        if (seen[cand] !== u) item = cand;
      }
      if (item < 0) {
        // Crowded neighbourhood: any unseen item, uniformly.
        for (let attempt = 0; attempt < 64 && item < 0; attempt++) {
          const cand = rng.int(I);
          if (seen[cand] !== u) item = cand;
        }
        if (item < 0) break;
      }
      seen[item] = u;
      cluster = itemCluster[item];
      prev = item;
      const gap = rng.next() < 0.7 ? -600 * Math.log(1 - rng.next()) : -5 * 86400 * Math.log(1 - rng.next());
      t += Math.floor(gap);
      const rating = Math.max(1, Math.min(5, Math.round(3.6 + quality[item] + bias + 0.8 * rng.normal())));
      emit(u, item, t, rating);
    }
  }
  return { options: o, itemCluster };
}

/** Generates a synthetic {@link Dataset} (see the file comment for the story). Raw ids are 1-based numbers. */
export function generateSynthetic(options: SyntheticOptions): Dataset {
  const o = normalize(options);
  let cap = o.interactions + 16;
  let users = new Int32Array(cap);
  let items = new Int32Array(cap);
  let times = new Float64Array(cap);
  let values = new Float32Array(cap);
  let n = 0;
  const model = syntheticEvents(o, (u, i, t, r) => {
    if (n === cap) {
      cap *= 2;
      const grow = <T extends Int32Array | Float64Array | Float32Array>(a: T, make: (len: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      users = grow(users, (l) => new Int32Array(l));
      items = grow(items, (l) => new Int32Array(l));
      times = grow(times, (l) => new Float64Array(l));
      values = grow(values, (l) => new Float32Array(l));
    }
    users[n] = u;
    items[n] = i;
    times[n] = t;
    values[n] = r;
    n++;
  });
  // Users are emitted in order; drop items nobody touched and users with no events.
  const itemNew = new Int32Array(o.items).fill(-1);
  for (let p = 0; p < n; p++) itemNew[items[p]] = 0;
  const itemRaws: string[] = [];
  const itemOld: number[] = [];
  for (let i = 0; i < o.items; i++) {
    if (itemNew[i] === 0) {
      itemNew[i] = itemRaws.length;
      itemRaws.push(String(i + 1));
      itemOld.push(i);
    }
  }
  const userCount = new Int32Array(o.users);
  for (let p = 0; p < n; p++) userCount[users[p]]++;
  const userRaws: string[] = [];
  const offsets: number[] = [0];
  for (let u = 0; u < o.users; u++) {
    if (userCount[u] === 0) continue;
    userRaws.push(String(u + 1));
    offsets.push(offsets[offsets.length - 1] + userCount[u]);
  }
  const outItems = new Int32Array(n);
  for (let p = 0; p < n; p++) outItems[p] = itemNew[items[p]];
  const side = new SideBuilder();
  side.declare('cluster', 'token');
  side.declare('title', 'text');
  for (const i of itemOld) {
    side.set(String(i + 1), 'cluster', `c${model.itemCluster[i]}`);
    side.set(String(i + 1), 'title', `Item ${i + 1} (cluster ${model.itemCluster[i]})`);
  }
  return {
    name: options.name ?? 'synthetic',
    nUsers: userRaws.length,
    nItems: itemRaws.length,
    offsets: Int32Array.from(offsets),
    items: outItems,
    times: times.slice(0, n),
    values: values.slice(0, n),
    userIds: IdMap.fromRaw(userRaws),
    itemIds: IdMap.fromRaw(itemRaws),
    hasTime: true,
    itemSide: side.build(itemRaws),
    fingerprint: sha256Text('reclab-synthetic-v1', canonicalJson(o)),
    provenance: { source: 'synthetic', format: 'synthetic', preparation: {} },
  };
}
