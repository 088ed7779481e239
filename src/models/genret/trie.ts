/**
 * The prefix trie of valid item IDs and beam search constrained to it: at each level a beam may
 * only be extended by a code that leads to at least one item, so every finished beam is an item
 * — decoding can never return an ID that names nothing (TIGER discards such IDs after the fact;
 * the trie prevents them).
 */
import type { IdTable } from './ids.ts';

/** An {@link IdTrie} as flat arrays (see {@link IdTrie.csr}). */
export interface TrieArrays {
  start: Int32Array;
  code: Int32Array;
  child: Int32Array;
  item: Int32Array;
}

/** A trie over the code tuples of an {@link IdTable}. Node 0 is the root. */
export class IdTrie {
  /** Children of each node: code → child node. */
  private readonly children: Map<number, number>[] = [new Map()];
  /** Item at each leaf node (−1 for inner nodes). */
  private readonly leafItem: number[] = [-1];
  readonly levels: number;
  private flat: TrieArrays | null = null;

  /** Builds the trie of the items `items` (default: all) of `table`. */
  constructor(table: IdTable, items?: Iterable<number>) {
    this.levels = table.levels;
    const L = table.levels;
    for (const i of items ?? Array.from({ length: table.nItems }, (_, k) => k)) {
      let node = 0;
      for (let l = 0; l < L; l++) {
        const c = table.codes[i * L + l];
        let next = this.children[node].get(c);
        if (next === undefined) {
          next = this.children.length;
          this.children.push(new Map());
          this.leafItem.push(-1);
          this.children[node].set(c, next);
        }
        node = next;
      }
      if (this.leafItem[node] >= 0) throw new Error(`IdTrie: items ${this.leafItem[node]} and ${i} share the ID ${Array.from(table.codes.subarray(i * L, (i + 1) * L)).join('-')}`);
      this.leafItem[node] = i;
    }
  }

  /** Valid next codes after `node` and their child nodes. */
  next(node: number): Map<number, number> {
    return this.children[node];
  }

  /** The item at a leaf (−1 for inner nodes). */
  item(node: number): number {
    return this.leafItem[node];
  }

  /**
   * The trie as flat arrays (built once): the children of node x are entries
   * start[x] … start[x + 1] − 1 of `code` and `child`; `item[x]` is the leaf's item (−1 inside).
   * The beam's hot loop reads these instead of Maps.
   */
  csr(): TrieArrays {
    if (!this.flat) {
      const n = this.children.length;
      const start = new Int32Array(n + 1);
      for (let x = 0; x < n; x++) start[x + 1] = start[x] + this.children[x].size;
      const code = new Int32Array(start[n]), child = new Int32Array(start[n]);
      for (let x = 0; x < n; x++) {
        let j = start[x];
        for (const [c, ch] of this.children[x]) {
          code[j] = c;
          child[j++] = ch;
        }
      }
      this.flat = { start, code, child, item: Int32Array.from(this.leafItem) };
    }
    return this.flat;
  }

  /** Number of nodes. */
  get size(): number {
    return this.children.length;
  }
}

/** One hypothesis of the beam. */
export interface Beam {
  node: number;
  /** Codes chosen so far. */
  codes: number[];
  /** Sum of log-probabilities of the chosen codes. */
  score: number;
}

/** A ranked result of {@link constrainedBeamSearch}. */
export interface Retrieved {
  item: number;
  /** log P(ID | history) under the model: the sum of its codes' log-probabilities. */
  score: number;
}

/**
 * Beam search of width `width` over the trie. `logProbs(beams, level)` returns, for each beam,
 * the model's log-probabilities of the next code at `level`, indexed by code (an array as long as
 * the level's codebook). Codes not in the trie under a beam are never taken. `exclude(item)`
 * drops items at the leaves (e.g. the user's history when the protocol filters seen items).
 * Returns up to `k` items, best first (ties broken by item id).
 */
export function constrainedBeamSearch(trie: IdTrie, width: number, k: number,
  logProbs: (beams: Beam[], level: number) => ArrayLike<number>[], exclude?: (item: number) => boolean): Retrieved[] {
  if (!(width >= 1)) throw new Error(`beam width must be ≥ 1, got ${width}`);
  let beams: Beam[] = [{ node: 0, codes: [], score: 0 }];
  for (let level = 0; level < trie.levels && beams.length > 0; level++) {
    const lp = logProbs(beams, level);
    const last = level === trie.levels - 1;
    // candidates as parallel arrays (a level may offer beams × codebook of them); beams are made for the survivors only
    const from: number[] = [], code: number[] = [], node: number[] = [], score: number[] = [];
    beams.forEach((b, i) => {
      for (const [c, child] of trie.next(b.node)) {
        if (last && exclude && exclude(trie.item(child))) continue;
        const s = b.score + lp[i][c];
        from.push(i);
        code.push(c);
        node.push(child);
        score.push(Number.isNaN(s) ? -Infinity : s);
      }
    });
    const order = Array.from({ length: score.length }, (_, j) => j);
    order.sort((a, c) => score[c] - score[a] || node[a] - node[c]);
    beams = order.slice(0, last ? Math.max(width, k) : width)
      .map((j) => ({ node: node[j], codes: [...beams[from[j]].codes, code[j]], score: score[j] }));
  }
  return beams
    .map((b) => ({ item: trie.item(b.node), score: b.score }))
    .sort((a, b) => b.score - a.score || a.item - b.item)
    .slice(0, k);
}

/** Log-softmax of `z` restricted to the slice [off, off + n) (the codes of one level). */
export function levelLogSoftmax(z: Float32Array, off: number, n: number): Float64Array {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) mx = Math.max(mx, z[off + j]);
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(z[off + j] - mx);
  const lse = mx + Math.log(s);
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) out[j] = z[off + j] - lse;
  return out;
}
