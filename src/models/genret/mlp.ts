/**
 * A multilayer perceptron on the engine: Linear → ReLU → … → Linear (no activation after the last
 * layer), with forward and backward recorded into programs and every activation kept for the
 * backward. Buffers are sized once for the largest batch. Used by the RQ-VAE's encoder and decoder.
 */
import type { Buf, Engine, Program } from '../../kernels/engine.ts';
import { linear, type Linear } from '../../nn/layers.ts';
import { xavierNormal, type ParamSet } from '../../nn/params.ts';
import type { Rng } from '../../util/rng.ts';

/** An MLP of `dims` = [in, hidden…, out] widths. */
export class Mlp {
  readonly layers: Linear[] = [];
  /** Pre-activation outputs H_i of each layer [maxRows × dims[i+1]] (the last one is the MLP's output). */
  readonly pre: Buf[] = [];
  /** Post-ReLU activations A_i of the hidden layers. */
  readonly act: Buf[] = [];
  /** Gradient scratch: one buffer per width. */
  private readonly gradA: Buf[] = [];
  private readonly gradH: Buf[] = [];

  constructor(params: ParamSet, name: string, readonly dims: number[], readonly maxRows: number, owner: object) {
    if (dims.length < 2) throw new Error(`${name}: an MLP needs at least an input and an output width, got [${dims}]`);
    const e: Engine = params.engine;
    for (let i = 0; i + 1 < dims.length; i++) {
      this.layers.push(linear(params, `${name}.${i}`, dims[i], dims[i + 1], true, owner));
      this.pre.push(e.f32(maxRows * dims[i + 1], owner));
      this.gradH.push(e.f32(maxRows * dims[i + 1], owner));
      if (i + 2 < dims.length) {
        this.act.push(e.f32(maxRows * dims[i + 1], owner));
        this.gradA.push(e.f32(maxRows * dims[i + 1], owner));
      }
    }
  }

  /** Output width. */
  get outDim(): number {
    return this.dims[this.dims.length - 1];
  }

  /** The output buffer (the last layer's pre-activation). */
  get output(): Buf {
    return this.pre[this.pre.length - 1];
  }

  /** Xavier-normal weights, PyTorch's default biases. */
  init(rng: Rng): void {
    for (const l of this.layers) {
      xavierNormal(l.weight, rng);
      l.initBias(rng);
    }
  }

  /** Records the per-step weight transposes (once per step, after every update). */
  prepare(prog: Program): void {
    for (const l of this.layers) l.prepare(prog);
  }

  /** Records the forward of `n` rows of `x` (ptr, width dims[0]); the output lands in {@link output}. */
  forward(prog: Program, x: number, n: number): void {
    this.check(n);
    let input = x;
    this.layers.forEach((l, i) => {
      l.forward(prog, { ptr: input, ld: this.dims[i] }, { ptr: this.pre[i].ptr, ld: this.dims[i + 1] }, n);
      if (i + 1 < this.layers.length) {
        prog.call('relu_fwd', this.act[i].ptr, this.pre[i].ptr, n * this.dims[i + 1]);
        input = this.act[i].ptr;
      }
    });
  }

  /**
   * Records the backward from dOut (ptr, n × outDim) after {@link forward} of the same rows:
   * parameter gradients accumulate into thread 0's buffers; dX (n × dims[0]) is written when given.
   */
  backward(prog: Program, x: number, dOut: number, dX: number | null, n: number): void {
    this.check(n);
    let dY = dOut;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const input = i === 0 ? x : this.act[i - 1].ptr;
      const dIn = i === 0 ? dX : this.gradA[i - 1].ptr;
      this.layers[i].backward(prog, 0, { ptr: dY, ld: this.dims[i + 1] }, { ptr: input, ld: this.dims[i] },
        dIn === null ? null : { ptr: dIn, ld: this.dims[i] }, n, false);
      if (i > 0) {
        prog.call('relu_bwd', this.gradH[i - 1].ptr, this.gradA[i - 1].ptr, this.pre[i - 1].ptr, n * this.dims[i], 0);
        dY = this.gradH[i - 1].ptr;
      }
    }
  }

  private check(n: number): void {
    if (n > this.maxRows) throw new Error(`Mlp: ${n} rows exceed the ${this.maxRows} the buffers hold`);
  }
}
