/**
 * Trainable parameters in the engine memory: the value, Adam's two moments, and one gradient
 * buffer per thread (each thread accumulates its own shard's gradient; the optimizer reduces them
 * in thread order, so a run is bit-identical for a given seed and thread count).
 */
import type { Buf, Engine } from '../kernels/engine.ts';
import type { NamedTensor } from './safetensors.ts';
import type { Rng } from './rng.ts';

/** One named parameter tensor. */
export interface Param {
  /** Name in checkpoints (PyTorch state_dict style, e.g. `blocks.0.ln1.weight`). */
  readonly name: string;
  readonly shape: number[];
  readonly size: number;
  readonly data: Buf;
  /** Per-thread gradient accumulators; grads[0] also receives the reduced sum. */
  readonly grads: Buf[];
  /** Adam first and second moments. */
  readonly m: Buf;
  readonly v: Buf;
  /**
   * Row width for lazily-updated tables (embeddings): only rows listed for a step are reduced and
   * updated, as in PyTorch's SparseAdam. 0 for dense parameters.
   */
  readonly sparseRow: number;
  /** Whether weight decay applies (not to biases and norms, by convention). */
  readonly decay: boolean;
}

/** Options of {@link ParamSet.add}. */
export interface ParamOptions {
  /** Lazily updated table with rows of this width. */
  sparseRow?: number;
  /** Apply weight decay (default: true for tensors of rank ≥ 2). */
  decay?: boolean;
}

/** The parameters of one model. */
export class ParamSet {
  readonly list: Param[] = [];
  private readonly byName = new Map<string, Param>();

  constructor(readonly engine: Engine, readonly threads: number, private readonly owner: object) {}

  /** Adds a zero-initialised parameter. */
  add(name: string, shape: number[], options: ParamOptions = {}): Param {
    if (this.byName.has(name)) throw new Error(`ParamSet: duplicate parameter "${name}"`);
    const size = shape.reduce((a, b) => a * b, 1);
    const e = this.engine;
    const p: Param = {
      name,
      shape,
      size,
      data: e.f32(size, this.owner),
      grads: Array.from({ length: this.threads }, () => e.f32(size, this.owner)),
      m: e.f32(size, this.owner),
      v: e.f32(size, this.owner),
      sparseRow: options.sparseRow ?? 0,
      decay: options.decay ?? shape.length >= 2,
    };
    this.list.push(p);
    this.byName.set(name, p);
    return p;
  }

  /** The parameter called `name`. */
  get(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new Error(`ParamSet: no parameter "${name}"`);
    return p;
  }

  /** Total number of scalars. */
  get count(): number {
    return this.list.reduce((a, p) => a + p.size, 0);
  }

  /** Values as named tensors (copies), for safetensors. */
  toTensors(): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    for (const p of this.list) out[p.name] = { data: p.data.a.slice(), shape: [...p.shape] };
    return out;
  }

  /** Loads values from named tensors; every parameter must be present with its exact shape. */
  fromTensors(tensors: Record<string, NamedTensor>, source: string): void {
    for (const p of this.list) {
      const t = tensors[p.name];
      if (!t) throw new Error(`${source}: missing tensor "${p.name}"`);
      if (t.shape.length !== p.shape.length || t.shape.some((s, i) => s !== p.shape[i])) {
        throw new Error(`${source}: tensor "${p.name}" has shape [${t.shape}], expected [${p.shape}]`);
      }
      if (!(t.data instanceof Float32Array)) throw new Error(`${source}: tensor "${p.name}" must be F32`);
      p.data.a.set(t.data);
    }
  }

  /** A copy of values and optimizer moments (for restoring the best epoch). */
  snapshot(): Float32Array[] {
    return this.list.flatMap((p) => [p.data.a.slice(), p.m.a.slice(), p.v.a.slice()]);
  }

  /** Restores a {@link snapshot}. */
  restore(state: Float32Array[]): void {
    if (state.length !== this.list.length * 3) throw new Error('ParamSet.restore: snapshot does not match this model');
    this.list.forEach((p, i) => {
      p.data.a.set(state[3 * i]);
      p.m.a.set(state[3 * i + 1]);
      p.v.a.set(state[3 * i + 2]);
    });
  }
}

/** Xavier (Glorot) normal init of a [fanOut × fanIn] tensor: N(0, 2/(fanIn + fanOut)). */
export function xavierNormal(p: Param, rng: Rng): void {
  const fanOut = p.shape[0];
  const fanIn = p.size / fanOut;
  const std = Math.sqrt(2 / (fanIn + fanOut));
  for (let i = 0; i < p.size; i++) p.data.a[i] = rng.normal() * std;
}

/** Normal init N(0, std²), the BERT/GPT-2 style `initializer_range` (std 0.02 there). */
export function normalInit(p: Param, std: number, rng: Rng): void {
  for (let i = 0; i < p.size; i++) p.data.a[i] = rng.normal() * std;
}

/** Uniform init U(−bound, bound) (PyTorch's default for Linear biases uses bound = 1/√fanIn). */
export function uniformInit(p: Param, bound: number, rng: Rng): void {
  for (let i = 0; i < p.size; i++) p.data.a[i] = (2 * rng.next() - 1) * bound;
}
