/**
 * Batched, incremental, trie-constrained beam search for TIGER (the fast form of
 * `Tiger.retrieveFrom` + `constrainedBeamSearch`, same hypotheses and scores).
 *
 * Why it is fast: the old search extended each of a user's 61 prefixes (1 + 20 + 20 + 20) one at a
 * time through the decoder in scalar JS, ≈ 8 M multiply-adds per user, and sorted every level's
 * up to 20 × 256 candidates. Here one decoding level of *every beam of every user in a chunk* is
 * a single row block: the dense parts of each decoder block (LN, the Q/K/V projection, the output
 * projection, the feed-forward layers) and the head run as a handful of GEMMs on the engine's SIMD
 * kernels. Only the new row of each beam is computed (incremental decoding): its keys and values
 * are cached per level, and a row attends to its user's memory keys/values (computed once, by
 * `TigerNet.memories`), to the cached rows of its ancestors (found through parent links, nothing
 * copied when beams fork) and to itself — that attention is a few thousand multiply-adds per row
 * and stays in JS. The head computes only the current level's codes. Candidates are selected
 * with a bounded heap (a strict total order: score, then trie node), then only the survivors are
 * sorted.
 */
import { Linear } from '../../nn/layers.ts';
import type { Engine } from '../../kernels/engine.ts';
import type { TigerNet } from './tiger-net.ts';
import type { TigerMemory } from './tiger-infer.ts';
import type { IdTrie, Retrieved, TrieArrays } from './trie.ts';

/** Per decoder block: its dense layers as engine Linears over the network's own parameters. */
interface BlockLayers {
  q: Linear;
  kv: Linear;
  out: Linear;
  ff1: Linear;
  ff2: Linear;
  ln1: { g: number; b: number };
  ln2: { g: number; b: number };
}

/**
 * A fast beam decoder bound to a network's current weights (make a new one after training
 * steps). Holds engine buffers for the Wᵀ copies; rows are processed in chunks of users.
 */
export class BeamDecoder {
  private readonly engine: Engine;
  private readonly d: number;
  private readonly f: number;
  private readonly blocks: BlockLayers[];
  private readonly heads: Linear[];
  private readonly decLn: { g: number; b: number };
  private readonly card: number[];
  private readonly csr: TrieArrays;

  /**
   * @param net the network (weights read at construction: Wᵀ copies are made once here)
   * @param trie the ID trie the search is constrained to
   * @param cardinalities codes per level of the ID table
   */
  constructor(private readonly net: TigerNet, private readonly trie: IdTrie, cardinalities: number[]) {
    this.engine = net.engine;
    this.d = net.cfg.hidden;
    this.f = net.cfg.ffn;
    this.card = cardinalities;
    this.csr = trie.csr();
    const e = this.engine, d = this.d, f = this.f;
    const prog = e.program();
    const lin = (w: Linear['weight'], b: Linear['bias'], inF: number, outF: number, row0 = 0): Linear => {
      const l = new Linear(e, w, b, inF, outF, row0, this);
      l.prepare(prog);
      return l;
    };
    this.blocks = net.dec.map((blk) => ({
      q: lin(blk.att.inProj, blk.att.inBias, d, d),
      kv: lin(blk.att.inProj, blk.att.inBias, d, 2 * d, d),
      out: lin(blk.att.out.weight, blk.att.out.bias, d, d),
      ff1: lin(blk.ff1.weight, blk.ff1.bias, d, f),
      ff2: lin(blk.ff2.weight, blk.ff2.bias, f, d),
      ln1: { g: blk.ln1.weight.data.ptr, b: blk.ln1.bias.data.ptr },
      ln2: { g: blk.ln2.weight.data.ptr, b: blk.ln2.bias.data.ptr },
    }));
    // the head restricted to each level's codes (rows levelOffset[l] … + card[l] of its weight)
    this.heads = cardinalities.map((c, l) => lin(net.head.weight, net.head.bias, d, c, net.vocab.levelOffset[l]));
    this.decLn = { g: net.decLn.weight.data.ptr, b: net.decLn.bias.data.ptr };
    e.run(prog);
  }

  /**
   * The top-`k` items of each user by beam search of width `width` (≥ 1) over the trie, with
   * log-probability scores, best first (ties by item id); `exclude[u]` drops items at the leaves.
   * Users are decoded together, `chunk` users at a time.
   */
  search(mems: TigerMemory[], k: number, width: number, exclude?: ((item: number) => boolean)[], chunk = 64): Retrieved[][] {
    if (!(width >= 1)) throw new Error(`beam width must be ≥ 1, got ${width}`);
    const out: Retrieved[][] = [];
    for (let u0 = 0; u0 < mems.length; u0 += chunk) {
      const u1 = Math.min(mems.length, u0 + chunk);
      out.push(...this.searchChunk(mems.slice(u0, u1), k, width, exclude ? exclude.slice(u0, u1) : undefined));
    }
    return out;
  }

  private searchChunk(mems: TigerMemory[], k: number, width: number, exclude?: ((item: number) => boolean)[]): Retrieved[][] {
    const e = this.engine, d = this.d, f = this.f, v = this.net.vocab, m = this.card.length, nb = this.blocks.length;
    const nu = mems.length;
    const keep = Math.max(width, k);
    const maxRows = nu * keep;
    const maxCard = Math.max(...this.card);
    const cacheRows = nu + nu * keep * (m - 1);
    let memRows = 0, maxL = 0;
    const memStartOf = new Int32Array(nu);
    mems.forEach((mem, u) => {
      memStartOf[u] = memRows;
      memRows += mem.L;
      maxL = Math.max(maxL, mem.L);
    });
    // engine buffers for the chunk (freed at the end): one level's rows, each block's memory and
    // decoded-row keys/values ([K | V] rows of 2d)
    const bufs = {
      X: e.f32(maxRows * d), H: e.f32(maxRows * d), Q: e.f32(maxRows * d), A: e.f32(maxRows * d), X1: e.f32(maxRows * d),
      FA: e.f32(maxRows * f), Z: e.f32(maxRows * maxCard), mean: e.f32(maxRows), rstd: e.f32(maxRows),
      ids: e.i32(maxRows), pos: e.i32(maxRows), memStart: e.i32(maxRows), memLen: e.i32(maxRows), anc: e.i32(maxRows * m),
      scratch: e.f32(maxL + m),
    };
    const MKV = Array.from({ length: nb }, () => e.f32(memRows * 2 * d));
    const CKV = Array.from({ length: nb }, () => e.f32(cacheRows * 2 * d));
    try {
      for (let b = 0; b < nb; b++) {
        const a = new Float32Array(e.memory.buffer, MKV[b].ptr, memRows * 2 * d);
        mems.forEach((mem, u) => {
          for (let j = 0; j < mem.L; j++) {
            a.set(mem.K[b].subarray(j * d, (j + 1) * d), (memStartOf[u] + j) * 2 * d);
            a.set(mem.V[b].subarray(j * d, (j + 1) * d), (memStartOf[u] + j) * 2 * d + d);
          }
        });
      }
      // beam state of the current level: rows of user u are [rowOff[u], rowOff[u + 1])
      let rowOff = new Int32Array(nu + 1);
      for (let u = 0; u < nu; u++) rowOff[u + 1] = u + 1;
      let node = new Int32Array(nu), score = new Float64Array(nu), token = new Int32Array(nu).fill(v.bos);
      let parent = new Int32Array(nu).fill(-1);
      const levelBase: number[] = []; // first cache row of each level
      const parents: Int32Array[] = []; // row → parent row at the previous level
      let base = 0, done = 0;
      for (let level = 0; level < m; level++) {
        const n = rowOff[nu];
        if (n === 0) break;
        levelBase.push(base);
        parents.push(parent);
        const mem = e.memory.buffer;
        new Int32Array(mem, bufs.ids.ptr, n).set(token.subarray(0, n));
        new Int32Array(mem, bufs.pos.ptr, n).fill(level);
        const ms = new Int32Array(mem, bufs.memStart.ptr, n), ml = new Int32Array(mem, bufs.memLen.ptr, n);
        const anc = new Int32Array(mem, bufs.anc.ptr, n * (level + 1));
        for (let u = 0; u < nu; u++) {
          for (let r = rowOff[u]; r < rowOff[u + 1]; r++) {
            ms[r] = memStartOf[u];
            ml[r] = mems[u].L;
            // cache rows of the ancestors (levels 0 … level − 1), then of the row itself
            let x = r;
            anc[r * (level + 1) + level] = base + r;
            for (let l = level; l > 0; l--) {
              x = parents[l][x];
              anc[r * (level + 1) + l - 1] = levelBase[l - 1] + x;
            }
          }
        }
        const prog = e.program();
        prog.call('embed_fwd', bufs.X.ptr, this.net.tok.data.ptr, bufs.ids.ptr, this.net.posDec.data.ptr, bufs.pos.ptr, n, d, Math.sqrt(d));
        this.blocks.forEach((blk, b) => {
          prog.call('layernorm_fwd', bufs.H.ptr, bufs.X.ptr, blk.ln1.g, blk.ln1.b, bufs.mean.ptr, bufs.rstd.ptr, n, d, this.net.cfg.lnEps);
          blk.q.forward(prog, { ptr: bufs.H.ptr, ld: d }, { ptr: bufs.Q.ptr, ld: d }, n);
          // the new rows' keys and values go straight into the cache, after the earlier levels'
          blk.kv.forward(prog, { ptr: bufs.H.ptr, ld: d }, { ptr: CKV[b].ptr + 4 * base * 2 * d, ld: 2 * d }, n);
          prog.call('attn_beam_fwd', bufs.Q.ptr, d, bufs.A.ptr, d, n, this.net.cfg.heads, d / this.net.cfg.heads,
            MKV[b].ptr, bufs.memStart.ptr, bufs.memLen.ptr, CKV[b].ptr, bufs.anc.ptr, level + 1, 2 * d, d, bufs.scratch.ptr);
          blk.out.forward(prog, { ptr: bufs.A.ptr, ld: d }, { ptr: bufs.X1.ptr, ld: d }, n, bufs.X.ptr);
          prog.call('layernorm_fwd', bufs.H.ptr, bufs.X1.ptr, blk.ln2.g, blk.ln2.b, bufs.mean.ptr, bufs.rstd.ptr, n, d, this.net.cfg.lnEps);
          blk.ff1.forward(prog, { ptr: bufs.H.ptr, ld: d }, { ptr: bufs.FA.ptr, ld: f }, n);
          prog.call('relu_fwd', bufs.FA.ptr, bufs.FA.ptr, n * f);
          blk.ff2.forward(prog, { ptr: bufs.FA.ptr, ld: f }, { ptr: bufs.X.ptr, ld: d }, n, bufs.X1.ptr);
        });
        const c = this.card[level];
        prog.call('layernorm_fwd', bufs.H.ptr, bufs.X.ptr, this.decLn.g, this.decLn.b, bufs.mean.ptr, bufs.rstd.ptr, n, d, this.net.cfg.lnEps);
        this.heads[level].forward(prog, { ptr: bufs.H.ptr, ld: d }, { ptr: bufs.Z.ptr, ld: c }, n);
        e.run(prog);
        base += n;
        done = level + 1;
        const Z = new Float32Array(e.memory.buffer, bufs.Z.ptr, n * c);
        // select each user's survivors
        const last = level === m - 1;
        const W = last ? keep : width;
        const nextOff = new Int32Array(nu + 1);
        const nNode = new Int32Array(nu * W), nScore = new Float64Array(nu * W), nParent = new Int32Array(nu * W), nCode = new Int32Array(nu * W);
        const heap = new Heap(W);
        const lp = new Float64Array(c);
        for (let u = 0; u < nu; u++) {
          heap.clear();
          const ex = last && exclude ? exclude[u] : undefined;
          for (let r = rowOff[u]; r < rowOff[u + 1]; r++) {
            logSoftmax(Z, r * c, c, lp);
            const s0 = score[r];
            for (let j = this.csr.start[node[r]], j1 = this.csr.start[node[r] + 1]; j < j1; j++) {
              const child = this.csr.child[j];
              if (ex && ex(this.csr.item[child])) continue;
              const s = s0 + lp[this.csr.code[j]];
              heap.offer(Number.isNaN(s) ? -Infinity : s, child, r, this.csr.code[j]);
            }
          }
          const o = nextOff[u];
          nextOff[u + 1] = o + heap.drainSorted(nScore, nNode, nParent, nCode, o);
        }
        rowOff = nextOff;
        const nn = rowOff[nu];
        node = nNode.subarray(0, nn);
        score = nScore.subarray(0, nn);
        parent = nParent.subarray(0, nn);
        token = new Int32Array(nn);
        for (let r = 0; r < nn; r++) token[r] = v.levelOffset[level] + nCode[r];
      }
      const results: Retrieved[][] = [];
      for (let u = 0; u < nu; u++) {
        const res: Retrieved[] = [];
        // (the loop stops early when no user has a row left: every user then gets no items)
        if (done === m) for (let r = rowOff[u]; r < rowOff[u + 1]; r++) res.push({ item: this.trie.item(node[r]), score: score[r] });
        res.sort((a, b) => b.score - a.score || a.item - b.item);
        results.push(res.slice(0, k));
      }
      return results;
    } finally {
      for (const b of [...Object.values(bufs), ...MKV, ...CKV]) e.freeBuf(b);
    }
  }
}

/** out[j] = z[off + j] − log Σ exp z[off + ·] over n entries (in float64, as `levelLogSoftmax`). */
function logSoftmax(z: Float32Array, off: number, n: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) if (z[off + j] > mx) mx = z[off + j];
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(z[off + j] - mx);
  const lse = mx + Math.log(s);
  for (let j = 0; j < n; j++) out[j] = z[off + j] - lse;
}

/**
 * The best `cap` candidates under the order (score descending, trie node ascending) — a strict
 * total order, since candidates are distinct nodes — kept in a binary min-heap whose top is the
 * worst kept; most candidates are rejected by one comparison with it.
 */
class Heap {
  private readonly s: Float64Array;
  private readonly node: Int32Array;
  private readonly row: Int32Array;
  private readonly code: Int32Array;
  private size = 0;

  constructor(private readonly cap: number) {
    this.s = new Float64Array(cap);
    this.node = new Int32Array(cap);
    this.row = new Int32Array(cap);
    this.code = new Int32Array(cap);
  }

  clear(): void {
    this.size = 0;
  }

  /** True when slot a ranks below slot b. */
  private worse(a: number, b: number): boolean {
    return this.s[a] < this.s[b] || (!(this.s[a] > this.s[b]) && this.node[a] > this.node[b]);
  }

  /** Offers a candidate. */
  offer(score: number, node: number, row: number, code: number): void {
    if (this.size < this.cap) {
      let i = this.size++;
      this.put(i, score, node, row, code);
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(i, p)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    // reject unless it ranks above the worst kept (slot 0)
    if (score < this.s[0] || (!(score > this.s[0]) && node > this.node[0])) return;
    this.put(0, score, node, row, code);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let w = i;
      if (l < this.size && this.worse(l, w)) w = l;
      if (r < this.size && this.worse(r, w)) w = r;
      if (w === i) break;
      this.swap(i, w);
      i = w;
    }
  }

  private put(i: number, score: number, node: number, row: number, code: number): void {
    this.s[i] = score;
    this.node[i] = node;
    this.row[i] = row;
    this.code[i] = code;
  }

  private swap(i: number, j: number): void {
    const s = this.s[i], n = this.node[i], r = this.row[i], c = this.code[i];
    this.put(i, this.s[j], this.node[j], this.row[j], this.code[j]);
    this.put(j, s, n, r, c);
  }

  /** Writes the kept candidates best first at `off` of the output arrays; returns how many. */
  drainSorted(score: Float64Array, node: Int32Array, row: Int32Array, code: Int32Array, off: number): number {
    const n = this.size;
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => (this.worse(a, b) ? 1 : this.worse(b, a) ? -1 : 0));
    idx.forEach((i, j) => {
      score[off + j] = this.s[i];
      node[off + j] = this.node[i];
      row[off + j] = this.row[i];
      code[off + j] = this.code[i];
    });
    return n;
  }
}
