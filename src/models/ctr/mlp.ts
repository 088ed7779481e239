/**
 * A multi-layer perceptron on the engine: Linear → ReLU → … → Linear (the last layer without
 * activation unless `lastActivation`). Buffers for up to `maxRows` rows are allocated once.
 */
import type { Engine, Program } from '../../kernels/engine.ts';
import { linear, type Linear } from '../../nn/layers.ts';
import { xavierNormal, type ParamSet } from '../../nn/params.ts';
import type { Rng } from '../../nn/rng.ts';

export class Mlp {
  readonly layers: Linear[];
  /** Pre-activations Z_l and activations A_l per layer ([maxRows × width_l]); gradient scratch. */
  private readonly z: number[] = [];
  private readonly a: number[] = [];
  private readonly dz: number[] = [];
  private readonly da: number[] = [];
  private readonly engine: Engine;
  /** Transposed leading columns of the first layer's weight, for {@link forwardFolded} (allocated on first use). */
  private wtPart: { ptr: number; size: number } | null = null;

  constructor(params: ParamSet, name: string, readonly sizes: number[], readonly maxRows: number, readonly lastActivation = false) {
    if (sizes.length < 2) throw new Error(`Mlp ${name}: needs at least an input and an output size`);
    this.engine = params.engine;
    this.layers = sizes.slice(1).map((out, l) => linear(params, `${name}.${l}`, sizes[l], out, true, this));
    for (let l = 1; l < sizes.length; l++) {
      this.z.push(this.engine.f32(maxRows * sizes[l], this).ptr);
      this.a.push(this.engine.f32(maxRows * sizes[l], this).ptr);
      this.dz.push(this.engine.f32(maxRows * sizes[l], this).ptr);
      this.da.push(this.engine.f32(maxRows * sizes[l], this).ptr);
    }
  }

  get out(): number {
    return this.sizes[this.sizes.length - 1];
  }

  /** Xavier-normal weights, PyTorch's default bias init. */
  init(rng: Rng): void {
    for (const l of this.layers) {
      xavierNormal(l.weight, rng);
      l.initBias(rng);
    }
  }

  private activated(l: number): boolean {
    return l < this.layers.length - 1 || this.lastActivation;
  }

  /** Runs the forward on X [n × in] (byte pointer); returns the pointer of the output [n × out]. */
  forward(X: number, n: number): number {
    if (n > this.maxRows) throw new Error(`Mlp: ${n} rows exceed the ${this.maxRows} allocated`);
    const prog = this.engine.program();
    const out = this.recordFrom(prog, 0, X, n);
    this.engine.run(prog);
    return out;
  }

  /** Records layers l0… on input x (layer l0's input, dense rows); returns the output pointer. */
  private recordFrom(prog: Program, l0: number, x: number, n: number): number {
    for (let l = l0; l < this.layers.length; l++) {
      const layer = this.layers[l];
      layer.prepare(prog);
      layer.forward(prog, { ptr: x, ld: layer.inFeatures }, { ptr: this.z[l], ld: layer.outFeatures }, n);
      if (this.activated(l)) {
        prog.call('relu_fwd', this.a[l], this.z[l], n * layer.outFeatures);
        x = this.a[l];
      } else x = this.z[l];
    }
    return x;
  }

  /**
   * The forward when the last inputs of each row are known to contribute a pre-computed amount to
   * the first layer (serving with pre-stored vectors: W₁·[x; v] = W₁[:, :inUsed]·x + (W₁[:, inUsed:]·v),
   * the second term computed once per stored vector). The first layer reads only the first
   * `inUsed` inputs of each row of X (row stride `ldX` floats), and `pre` [n × out₁] (byte
   * pointer, the rest) is added to its pre-activation before the activation; `fillPre` records
   * the calls that write `pre`. One engine run, as {@link forward}. Inference only (no backward).
   */
  forwardFolded(X: number, ldX: number, inUsed: number, n: number, pre: number, fillPre: (prog: Program) => void): number {
    if (n > this.maxRows) throw new Error(`Mlp: ${n} rows exceed the ${this.maxRows} allocated`);
    const first = this.layers[0];
    const out = first.outFeatures;
    if (!(inUsed > 0 && inUsed <= first.inFeatures && ldX >= inUsed)) throw new Error(`Mlp.forwardFolded: ${inUsed} inputs used of ${first.inFeatures} (row stride ${ldX})`);
    if (!this.wtPart || this.wtPart.size < inUsed * out) this.wtPart = { ptr: this.engine.f32(first.inFeatures * out, this).ptr, size: first.inFeatures * out };
    const prog = this.engine.program();
    fillPre(prog);
    // W₁[:, :inUsed]ᵀ (what prepare does for the whole weight), then Z₁ = X·W₁[:, :inUsed]ᵀ + b₁
    prog.call('transpose', this.wtPart.ptr, first.weight.data.ptr, out, inUsed, first.inFeatures, out);
    prog.call('gemm', this.z[0], X, this.wtPart.ptr, n, out, inUsed, ldX, out, out, 0, 0, 0, 1);
    if (first.bias) prog.call('add_bias', this.z[0], first.bias.data.ptr, n, out, out);
    prog.call('add', this.z[0], this.z[0], pre, n * out);
    let x = this.z[0];
    if (this.activated(0)) {
      prog.call('relu_fwd', this.a[0], this.z[0], n * out);
      x = this.a[0];
    }
    const y = this.recordFrom(prog, 1, x, n);
    this.engine.run(prog);
    return y;
  }

  /**
   * From dOut [n × out] (byte pointer): weight gradients into thread 0, and dX [n × in] written
   * (or added when `accumulate`) when dX is not null. Needs the forward's buffers (same X).
   */
  backward(X: number, dOut: number, dX: number | null, n: number, accumulate = false): void {
    const prog = this.engine.program();
    let dy = dOut;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const layer = this.layers[l];
      const m = n * layer.outFeatures;
      if (this.activated(l)) {
        prog.call('relu_bwd', this.dz[l], dy, this.z[l], m, 0);
        dy = this.dz[l];
      }
      const xin = l === 0 ? X : this.activated(l - 1) ? this.a[l - 1] : this.z[l - 1];
      const dIn = l === 0 ? dX : this.da[l - 1];
      layer.backward(prog, 0, { ptr: dy, ld: layer.outFeatures }, { ptr: xin, ld: layer.inFeatures }, dIn === null ? null : { ptr: dIn, ld: layer.inFeatures }, n, l === 0 ? accumulate : false);
      if (l > 0) dy = this.da[l - 1];
    }
    this.engine.run(prog);
  }
}
