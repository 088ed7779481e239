/**
 * KAR's hybrid-expert adaptor (Xi et al. 2023, "Towards Open-World Recommendation with Knowledge
 * Augmentation from LLMs", §3.3): the encoded reasoning knowledge r_u of the user and factual
 * knowledge f_i of the item are high-dimensional (the text encoder's width, 512 here) and live in a
 * semantic space unlike the recommender's. Each side is mapped by a mixture of experts:
 *
 *   r̂_u = Σ_{e ∈ shared ∪ user}  α_e(r_u) · Expert_e(r_u),   α(r_u) = softmax(W_u r_u)
 *   f̂_i = Σ_{e ∈ shared ∪ item}  β_e(f_i) · Expert_e(f_i),   β(f_i) = softmax(W_i f_i)
 *
 * where the shared experts see both sides (what reasoning and facts have in common) and the
 * dedicated experts one side each. Every expert is an MLP dk → hidden → d; r̂_u and f̂_i enter the
 * backbone as two extra fields of width d, and the adaptor trains with the backbone. After
 * training, r̂_u and f̂_i are computed once for every user and item and stored, so serving reads a
 * table and calls no LLM and no adaptor.
 */
import type { Engine } from '../../kernels/engine.ts';
import type { ParamSet } from '../../nn/params.ts';
import type { Rng } from '../../nn/rng.ts';
import { Mlp } from './mlp.ts';

/** Adaptor sizes. */
export interface AdaptorConfig {
  shared: number;
  dedicated: number;
  hidden: number;
}

/** Knowledge vectors keyed by dense user / item index. */
export interface KnowledgeTables {
  dim: number;
  user: Float32Array;
  item: Float32Array;
  /**
   * Time-dependent user vectors (LIBER's fusion of the partitions frozen before the impression,
   * with the target item as query): writes the user vector of impression `event` into
   * out[off … off + dim). When present it replaces the `user` table.
   */
  userOfEvent?: (event: number, item: number, out: Float32Array, off: number) => void;
  /**
   * Pre-stored adaptor outputs r̂_u [nUsers × d], f̂_i [nItems × d] (CtrModel.augmentedVectors):
   * serving reads them and runs neither the encoder nor the adaptor.
   */
  augmented?: { dim: number; user: Float32Array; item: Float32Array };
}

export class HybridExpertAdaptor {
  readonly shared: Mlp[];
  readonly userExperts: Mlp[];
  readonly itemExperts: Mlp[];
  readonly userGate: Mlp;
  readonly itemGate: Mlp;
  private readonly engine: Engine;
  /** Inputs: user rows 0…n−1 then item rows n…2n−1 [2·maxRows × dk]. */
  private readonly xs: { ptr: number; a: Float32Array };
  private readonly dOut: { ptr: number; a: Float32Array };
  /** Saved per forward: gates and expert outputs (JS copies) for the backward. */
  private saved: { n: number; gu: Float32Array; gi: Float32Array; ys: Float32Array[]; yu: Float32Array[]; yi: Float32Array[] } | null = null;

  constructor(params: ParamSet, readonly dk: number, readonly d: number, readonly cfg: AdaptorConfig, readonly maxRows: number) {
    this.engine = params.engine;
    const sizes = [dk, cfg.hidden, d];
    this.shared = Array.from({ length: cfg.shared }, (_, e) => new Mlp(params, `adaptor.shared.${e}`, sizes, 2 * maxRows));
    this.userExperts = Array.from({ length: cfg.dedicated }, (_, e) => new Mlp(params, `adaptor.user.${e}`, sizes, maxRows));
    this.itemExperts = Array.from({ length: cfg.dedicated }, (_, e) => new Mlp(params, `adaptor.item.${e}`, sizes, maxRows));
    this.userGate = new Mlp(params, 'adaptor.user_gate', [dk, cfg.shared + cfg.dedicated], maxRows);
    this.itemGate = new Mlp(params, 'adaptor.item_gate', [dk, cfg.shared + cfg.dedicated], maxRows);
    this.xs = this.engine.f32(2 * maxRows * dk, this);
    this.dOut = this.engine.f32(2 * maxRows * d, this);
  }

  init(rng: Rng): void {
    for (const m of [...this.shared, ...this.userExperts, ...this.itemExperts, this.userGate, this.itemGate]) m.init(rng);
  }

  private read(ptr: number, len: number): Float32Array {
    return new Float32Array(this.engine.memory.buffer, ptr, len).slice();
  }

  /** r̂ [n × d] and f̂ [n × d] of the rows' users and items (plain arrays). */
  forward(users: Int32Array, items: Int32Array, n: number, k: KnowledgeTables, events?: Int32Array): { user: Float32Array; item: Float32Array } {
    const { dk, d } = this;
    const x = this.xs.a;
    if (k.userOfEvent && !events) throw new Error('HybridExpertAdaptor: time-dependent user vectors need the event of each row');
    for (let r = 0; r < n; r++) {
      if (k.userOfEvent) k.userOfEvent(events![r], items[r], x, r * dk);
      else x.set(k.user.subarray(users[r] * dk, users[r] * dk + dk), r * dk);
      x.set(k.item.subarray(items[r] * dk, items[r] * dk + dk), (n + r) * dk);
    }
    const xu = this.xs.ptr;
    const xi = this.xs.ptr + 4 * n * dk;
    const ys = this.shared.map((m) => this.read(m.forward(xu, 2 * n), 2 * n * d));
    const yu = this.userExperts.map((m) => this.read(m.forward(xu, n), n * d));
    const yi = this.itemExperts.map((m) => this.read(m.forward(xi, n), n * d));
    const E = this.cfg.shared + this.cfg.dedicated;
    const gu = softmaxRows(this.read(this.userGate.forward(xu, n), n * E), n, E);
    const gi = softmaxRows(this.read(this.itemGate.forward(xi, n), n * E), n, E);
    const outU = new Float32Array(n * d);
    const outI = new Float32Array(n * d);
    const S = this.cfg.shared;
    for (let r = 0; r < n; r++) {
      for (let e = 0; e < E; e++) {
        const gU = gu[r * E + e];
        const gI = gi[r * E + e];
        const yU = e < S ? ys[e].subarray(r * d, r * d + d) : yu[e - S].subarray(r * d, r * d + d);
        const yI = e < S ? ys[e].subarray((n + r) * d, (n + r) * d + d) : yi[e - S].subarray(r * d, r * d + d);
        for (let j = 0; j < d; j++) {
          outU[r * d + j] += gU * yU[j];
          outI[r * d + j] += gI * yI[j];
        }
      }
    }
    this.saved = { n, gu, gi, ys, yu, yi };
    return { user: outU, item: outI };
  }

  /** Gradients of every adaptor parameter from dr̂ [n × d] and df̂ [n × d] (inputs are fixed vectors). */
  backward(dU: Float32Array, dI: Float32Array): void {
    if (!this.saved) throw new Error('HybridExpertAdaptor.backward before forward');
    const { n, gu, gi, ys, yu, yi } = this.saved;
    const { d, dk } = this;
    const S = this.cfg.shared;
    const E = S + this.cfg.dedicated;
    const xu = this.xs.ptr;
    const xi = this.xs.ptr + 4 * n * dk;
    const dgU = new Float32Array(n * E);
    const dgI = new Float32Array(n * E);
    const dy = this.dOut.a;
    const side = (g: Float32Array, dOut: Float32Array, dg: Float32Array, y: (e: number, r: number) => Float32Array, e: number, r: number, rowOut: number): void => {
      const ye = y(e, r);
      const ge = g[r * E + e];
      let s = 0;
      for (let j = 0; j < d; j++) {
        s += dOut[r * d + j] * ye[j];
        dy[rowOut * d + j] = ge * dOut[r * d + j];
      }
      dg[r * E + e] = s;
    };
    const yShared = (e: number, r: number): Float32Array => ys[e].subarray(r * d, r * d + d);
    const yShared2 = (e: number, r: number): Float32Array => ys[e].subarray((n + r) * d, (n + r) * d + d);
    for (let e = 0; e < S; e++) {
      for (let r = 0; r < n; r++) {
        side(gu, dU, dgU, yShared, e, r, r);
        side(gi, dI, dgI, yShared2, e, r, n + r);
      }
      this.shared[e].backward(xu, this.dOut.ptr, null, 2 * n);
    }
    for (let e = 0; e < this.cfg.dedicated; e++) {
      for (let r = 0; r < n; r++) side(gu, dU, dgU, (k, q) => yu[k - S].subarray(q * d, q * d + d), S + e, r, r);
      this.userExperts[e].backward(xu, this.dOut.ptr, null, n);
      for (let r = 0; r < n; r++) side(gi, dI, dgI, (k, q) => yi[k - S].subarray(q * d, q * d + d), S + e, r, r);
      this.itemExperts[e].backward(xi, this.dOut.ptr, null, n);
    }
    // softmax backward: dz_k = g_k (dg_k − Σ_e g_e dg_e)
    for (const [g, dg, gate, x] of [[gu, dgU, this.userGate, xu], [gi, dgI, this.itemGate, xi]] as const) {
      for (let r = 0; r < n; r++) {
        let dot = 0;
        for (let e = 0; e < E; e++) dot += g[r * E + e] * dg[r * E + e];
        for (let e = 0; e < E; e++) dy[r * E + e] = g[r * E + e] * (dg[r * E + e] - dot);
      }
      // gate is a one-layer Mlp: redo its forward so its buffers hold this side's activations
      gate.forward(x, n);
      gate.backward(x, this.dOut.ptr, null, n);
    }
  }
}

/** Row-wise softmax of an [n × E] array (in place; returned). */
export function softmaxRows(z: Float32Array, n: number, E: number): Float32Array {
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let e = 0; e < E; e++) m = Math.max(m, z[r * E + e]);
    let s = 0;
    for (let e = 0; e < E; e++) s += z[r * E + e] = Math.exp(z[r * E + e] - m);
    for (let e = 0; e < E; e++) z[r * E + e] /= s;
  }
  return z;
}
