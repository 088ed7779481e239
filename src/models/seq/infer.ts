/**
 * Inference plumbing shared by the engine-trained sequential networks (SASRec, BERT4Rec, HSTU):
 * running a network's recorded forward over many ragged sequences in bounded, thread-parallel
 * chunks, and scoring hidden rows against the whole item table with one GEMM per block of rows.
 * Each network supplies only what is its own: how one shard's forward is recorded and where its
 * per-sequence rows end up.
 */
import type { Engine, Program } from '../../kernels/engine.ts';
import type { Interactions } from '../../data/types.ts';
import { splitBalanced, type Shard } from './ragged.ts';

/** Sequences per thread in one inference chunk: bounds the workspace whatever the number of users. */
const INFER_SEQS = 64;

/** One shard's recorded inference and how to read its result afterwards. */
export interface ShardInference {
  program: Program;
  /** Copies the shard's (s1 − s0) rows of d floats into `out` from float index `at`. */
  collect: (out: Float32Array, at: number) => void;
}

/** What {@link inferRows} needs from a network. */
export interface RowInference {
  engine: Engine;
  threads: number;
  /** Row width (floats per sequence in the output). */
  d: number;
  maxLen: number;
  /** Error-message prefix (the model name). */
  name: string;
  /** Linear-cost weight for {@link splitBalanced}. */
  linearWeight: number;
  /** Records the forward of one shard of a chunk (ragged offsets `off`, ids `inputs`) on worker `w`. */
  shard: (sh: Shard, w: number, off: Int32Array, inputs: Int32Array) => ShardInference;
}

/**
 * One output row per sequence (internal ids, 1..maxLen long) into `out` [seqs.length × d]:
 * chunks of INFER_SEQS · threads sequences, each split into balanced shards run in parallel.
 */
export function inferRows(net: RowInference, seqs: Int32Array[], out: Float32Array): void {
  const { engine, threads, d } = net;
  const chunk = INFER_SEQS * threads;
  for (let c0 = 0; c0 < seqs.length; c0 += chunk) {
    const part = seqs.slice(c0, c0 + chunk);
    const off = new Int32Array(part.length + 1);
    part.forEach((s, i) => {
      if (s.length === 0 || s.length > net.maxLen) throw new Error(`${net.name}: sequence ${c0 + i} has length ${s.length}`);
      off[i + 1] = off[i] + s.length;
    });
    const inputs = new Int32Array(off[part.length]);
    part.forEach((s, i) => inputs.set(s, off[i]));
    const shards = splitBalanced(off, threads, net.linearWeight);
    const runs = shards.map((sh, w) => net.shard(sh, w, off, inputs));
    engine.runParallel(runs.map((r) => r.program));
    shards.forEach((sh, w) => runs[w].collect(out, (c0 + sh.s0) * d));
  }
}


/**
 * A sequential model's user vectors: the last hidden state of each user's history window
 * (`window` turns dataset ids into the net's internal ids) into out [users.length × d], zeros for
 * a user without history (every item then ties). Users and item ids are checked against the model.
 */
export function historyStates(name: string, users: Int32Array, history: Interactions, nItems: number, d: number,
  window: (items: Int32Array) => Int32Array, lastHidden: (seqs: Int32Array[], out: Float32Array) => void, out: Float32Array): void {
  if (history.nItems !== nItems) throw new Error(`${name}: history has ${history.nItems} items, the model ${nItems}`);
  const seqs: Int32Array[] = [];
  const rowOf: number[] = [];
  users.forEach((u, i) => {
    if (!(u >= 0 && u < history.nUsers)) throw new RangeError(`${name}: user ${u} outside 0..${history.nUsers - 1}`);
    const w = window(history.items.subarray(history.offsets[u], history.offsets[u + 1]));
    for (const id of w) if (!(id >= 1 && id <= nItems)) throw new RangeError(`${name}: user ${u} has item ${id - 1} outside 0..${nItems - 1}`);
    if (w.length > 0) {
      seqs.push(w);
      rowOf.push(i);
    } else out.fill(0, i * d, (i + 1) * d);
  });
  const H = new Float32Array(seqs.length * d);
  lastHidden(seqs, H);
  rowOf.forEach((r, k) => out.set(H.subarray(k * d, k * d + d), r * d));
}
