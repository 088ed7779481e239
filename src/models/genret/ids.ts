/**
 * Item ID tables for generative retrieval: each item's ID is a short tuple of codes, one per
 * level, plus a last "collision" level that numbers items whose tuples are otherwise equal
 * (0, 1, 2, … as in TIGER), so every ID names exactly one item. Also the two simple schemes of
 * "How to Index Item IDs for Recommendation Foundation Models" (Hua et al., SIGIR-AP 2023) that
 * need no training — random and sequential — and the statistics printed with every table
 * (codebook usage, collisions, prefix sharing). RQ-VAE IDs come from ./rqvae.ts, collaborative
 * ones from ./collab.ts.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Interactions } from '../../data/types.ts';
import { Rng } from '../../util/rng.ts';

/** An item → code-tuple table. */
export interface IdTable {
  /** How the codes were made (`rqvae`, `random`, `sequential`, `collaborative`, …). */
  scheme: string;
  nItems: number;
  /** Codes per item, the collision level included. */
  levels: number;
  /** Number of distinct code values each level may take (the last: the largest collision group). */
  cardinalities: number[];
  /** nItems × levels, row-major; item i's ID is codes[i·levels .. (i+1)·levels). */
  codes: Int32Array;
  /** Raw item ids in dense order, when known (checked against the data that uses the table). */
  itemIds?: string[];
  /** Anything describing how the table was built (source of vectors, config, training record). */
  meta: Record<string, unknown>;
}

/** Statistics of an ID table. */
export interface IdStats {
  items: number;
  levels: number;
  /** Per semantic level (collision level excluded): codes used and the perplexity exp(H) of their use. */
  usage: { level: number; used: number; of: number; perplexity: number }[];
  /** Items whose semantic tuple is shared with at least one other item. */
  collidingItems: number;
  /** Distinct semantic tuples. */
  distinctTuples: number;
  /** Largest number of items sharing one semantic tuple. */
  maxCollision: number;
  /** For prefix lengths 1..semantic levels: distinct prefixes and mean items per prefix. */
  prefixes: { length: number; distinct: number; meanItems: number }[];
}

/**
 * Appends the collision level to `n` tuples of `levels` codes: items with equal tuples get
 * 0, 1, 2, … in item order; the others 0.
 */
export function withCollisionLevel(codes: Int32Array, n: number, levels: number, scheme: string, cardinalities: number[],
  meta: Record<string, unknown> = {}): IdTable {
  if (codes.length !== n * levels) throw new Error(`${scheme}: expected ${n}×${levels} codes, got ${codes.length}`);
  const L = levels + 1;
  const out = new Int32Array(n * L);
  const seen = new Map<string, number>();
  let maxGroup = 1;
  for (let i = 0; i < n; i++) {
    const tuple = codes.subarray(i * levels, (i + 1) * levels);
    const key = tuple.join(',');
    const k = seen.get(key) ?? 0;
    seen.set(key, k + 1);
    maxGroup = Math.max(maxGroup, k + 1);
    out.set(tuple, i * L);
    out[i * L + levels] = k;
  }
  return { scheme, nItems: n, levels: L, cardinalities: [...cardinalities, maxGroup], codes: out, meta };
}

/** Statistics of a table (see {@link IdStats}). */
export function idStats(t: IdTable): IdStats {
  const sem = t.levels - 1;
  const usage = [];
  for (let l = 0; l < sem; l++) {
    const counts = new Map<number, number>();
    for (let i = 0; i < t.nItems; i++) {
      const c = t.codes[i * t.levels + l];
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    let h = 0;
    for (const c of counts.values()) {
      const p = c / t.nItems;
      h -= p * Math.log(p);
    }
    usage.push({ level: l, used: counts.size, of: t.cardinalities[l], perplexity: Math.exp(h) });
  }
  const prefixes = [];
  let tuples = new Map<string, number>();
  for (let len = 1; len <= sem; len++) {
    tuples = new Map<string, number>();
    for (let i = 0; i < t.nItems; i++) {
      const key = t.codes.subarray(i * t.levels, i * t.levels + len).join(',');
      tuples.set(key, (tuples.get(key) ?? 0) + 1);
    }
    prefixes.push({ length: len, distinct: tuples.size, meanItems: t.nItems / Math.max(1, tuples.size) });
  }
  let colliding = 0, maxCollision = 0;
  for (const c of tuples.values()) {
    if (c > 1) colliding += c;
    maxCollision = Math.max(maxCollision, c);
  }
  return { items: t.nItems, levels: t.levels, usage, collidingItems: colliding, distinctTuples: tuples.size, maxCollision, prefixes };
}

/** Random IDs: each semantic level an independent uniform code in 0..K−1 (Hua et al.'s random indexing). */
export function randomIds(nItems: number, levels: number, K: number, seed: number): IdTable {
  const rng = new Rng(seed);
  const codes = new Int32Array(nItems * levels);
  for (let i = 0; i < codes.length; i++) codes[i] = rng.int(K);
  return withCollisionLevel(codes, nItems, levels, 'random', new Array(levels).fill(K), { K, seed });
}

/**
 * Sequential IDs: items numbered by first appearance in the users' sequences (users in id order,
 * events in time order; items never seen come last, in id order), the number written in base K
 * with the fewest digits that hold every item. Unique by construction.
 */
export function sequentialIds(train: Interactions, K: number): IdTable {
  const n = train.nItems;
  const rank = new Int32Array(n).fill(-1);
  let next = 0;
  for (let e = 0; e < train.items.length; e++) {
    const it = train.items[e];
    if (rank[it] < 0) rank[it] = next++;
  }
  for (let i = 0; i < n; i++) if (rank[i] < 0) rank[i] = next++;
  let levels = 1;
  while (K ** levels < n) levels++;
  const codes = new Int32Array(n * levels);
  for (let i = 0; i < n; i++) {
    let r = rank[i];
    for (let l = levels - 1; l >= 0; l--) {
      codes[i * levels + l] = r % K;
      r = Math.floor(r / K);
    }
  }
  return withCollisionLevel(codes, n, levels, 'sequential', new Array(levels).fill(K), { K });
}

/** JSON form of a table (codes as nested arrays per item). */
interface IdTableJson {
  scheme: string;
  nItems: number;
  levels: number;
  cardinalities: number[];
  codes: number[][];
  itemIds?: string[];
  meta: Record<string, unknown>;
  stats?: IdStats;
}

/** Writes a table (and its statistics) as JSON. */
export function saveIdTable(path: string, t: IdTable): void {
  mkdirSync(dirname(path), { recursive: true });
  const codes = Array.from({ length: t.nItems }, (_, i) => Array.from(t.codes.subarray(i * t.levels, (i + 1) * t.levels)));
  const json: IdTableJson = { scheme: t.scheme, nItems: t.nItems, levels: t.levels, cardinalities: t.cardinalities, codes, itemIds: t.itemIds, meta: t.meta, stats: idStats(t) };
  writeFileSync(path, JSON.stringify(json) + '\n');
}

/** Reads a table written by {@link saveIdTable}, checking its shape (errors name the file and field). */
export function loadIdTable(path: string): IdTable {
  let json: IdTableJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as IdTableJson;
  } catch (e) {
    throw new Error(`${path}: cannot read the ID table (${(e as Error).message}); build it with \`reclab ids build\``);
  }
  const { nItems, levels } = json;
  if (!Number.isInteger(nItems) || !Number.isInteger(levels) || levels < 1) throw new Error(`${path}: fields nItems and levels must be positive integers`);
  if (!Array.isArray(json.codes) || json.codes.length !== nItems) throw new Error(`${path}: field codes must hold ${nItems} tuples`);
  if (!Array.isArray(json.cardinalities) || json.cardinalities.length !== levels) throw new Error(`${path}: field cardinalities must have ${levels} entries`);
  const codes = new Int32Array(nItems * levels);
  json.codes.forEach((tuple, i) => {
    if (!Array.isArray(tuple) || tuple.length !== levels) throw new Error(`${path}: codes[${i}] must have ${levels} codes`);
    tuple.forEach((c, l) => {
      if (!Number.isInteger(c) || c < 0 || c >= json.cardinalities[l]) throw new Error(`${path}: codes[${i}][${l}] = ${c} is outside 0..${json.cardinalities[l] - 1}`);
      codes[i * levels + l] = c;
    });
  });
  return { scheme: json.scheme, nItems, levels, cardinalities: json.cardinalities, codes, itemIds: json.itemIds, meta: json.meta ?? {} };
}
