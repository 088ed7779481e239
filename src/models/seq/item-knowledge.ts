/**
 * Item knowledge for the sequential models (issue 21, point 5; REKI / KAR, METHODS.md §4): each
 * item i carries a fixed knowledge vector k_i (an encoded text about the item — written by an LLM,
 * or from metadata by the offline source). The item tower of KAR's hybrid-expert adaptor maps it
 * into the model's embedding space, and the result is added to the learned item embedding:
 *
 *   f̂_i = Σ_e α_e(k_i) · Expert_e(k_i),   α(k_i) = softmax(W_g k_i + b_g)
 *   Ẽ[i] = E[i] + f̂_i
 *
 * Every expert is an MLP dk → hidden → d (ReLU between). Ẽ replaces E everywhere the network reads
 * item vectors (the input embedding and the shared output layer), so an item seen rarely in
 * training still gets a representation from its knowledge. With one tower there is no
 * shared/dedicated distinction (KAR's shared experts serve the user and the item tower alike).
 *
 * Training: the adaptor runs over all items once per step (Ẽ is rebuilt from the current weights);
 * the network's gradient with respect to Ẽ is the gradient of E (accumulated per thread by the
 * kernels) and, summed over threads, flows back through the adaptor. Serving: Ẽ is computed once
 * after training or load and the network scores from it, so a request costs exactly what it costs
 * without knowledge.
 *
 * The knowledge table lives in the network's parameter set as a table whose rows are never
 * touched by the optimizer (so it is saved and loaded with the weights: pre-stored).
 */
import type { Buf, Engine } from '../../kernels/engine.ts';
import type { Param, ParamSet } from '../../nn/params.ts';
import type { Rng } from '../../nn/rng.ts';
import { Mlp } from '../ctr/mlp.ts';
import { softmaxRows } from '../ctr/adaptor.ts';

/** Sizes of the item adaptor. */
export interface ItemKnowledgeConfig {
  /** Width of the knowledge vectors (the text encoder's output). */
  dim: number;
  /** Experts mixed by the gate. */
  experts: number;
  /** Hidden width of each expert MLP. */
  hidden: number;
}

/** The knowledge table, the item adaptor and the effective item table Ẽ = E + f̂(K). */
export class ItemKnowledgeAdaptor {
  /** Knowledge vectors by dataset item id [nItems × dim]; the optimizer never updates it. */
  readonly table: Param;
  readonly experts: Mlp[];
  readonly gate: Mlp;
  /** Ẽ [(nItems + 1) × d] (row 0: padding, zero). */
  readonly effective: Buf<Float32Array>;
  private readonly engine: Engine;
  private readonly dOut: Buf<Float32Array>;
  /** The last forward's gates [nItems × experts] and expert output pointers, for the backward. */
  private saved: { gates: Float32Array; outs: number[] } | null = null;

  constructor(params: ParamSet, readonly cfg: ItemKnowledgeConfig, readonly nItems: number, readonly d: number, owner: object) {
    if (!(cfg.dim > 0 && cfg.experts > 0 && cfg.hidden > 0)) throw new Error(`item knowledge: dim, experts and hidden must be positive (got ${JSON.stringify(cfg)})`);
    this.engine = params.engine;
    // a "sparse" table: Adam updates only the rows it is told were touched, and it is told none
    this.table = params.add('knowledge.item', [nItems, cfg.dim], { sparseRow: cfg.dim, decay: false });
    this.experts = Array.from({ length: cfg.experts }, (_, e) => new Mlp(params, `knowledge.expert.${e}`, [cfg.dim, cfg.hidden, d], nItems));
    this.gate = new Mlp(params, 'knowledge.gate', [cfg.dim, cfg.experts], nItems);
    this.effective = this.engine.f32((nItems + 1) * d, owner);
    this.dOut = this.engine.f32(nItems * Math.max(d, cfg.experts), owner);
  }

  /** Xavier-normal expert and gate weights (the table is set separately). */
  init(rng: Rng): void {
    for (const m of [...this.experts, this.gate]) m.init(rng);
  }

  /** Copies knowledge vectors [nItems × dim] (dataset item order) into the table. */
  setTable(vectors: Float32Array): void {
    const want = this.nItems * this.cfg.dim;
    if (vectors.length !== want) throw new Error(`item knowledge: got ${vectors.length} values, need ${this.nItems} items × ${this.cfg.dim}`);
    this.table.data.a.set(vectors);
  }

  /** Ẽ = E + f̂(K) from the item table E [(nItems + 1) × d] (engine memory); keeps what the backward needs. */
  forward(itemTable: Float32Array): void {
    const { d, nItems: n } = this;
    const E = this.cfg.experts;
    const K = this.table.data.ptr;
    const outs = this.experts.map((m) => m.forward(K, n));
    const gates = softmaxRows(new Float32Array(this.engine.memory.buffer, this.gate.forward(K, n), n * E).slice(), n, E);
    const eff = this.effective.a;
    eff.set(itemTable.subarray(0, (n + 1) * d));
    eff.fill(0, 0, d);
    const mem = this.engine.memory.buffer;
    for (let e = 0; e < E; e++) {
      const y = new Float32Array(mem, outs[e], n * d);
      for (let i = 0; i < n; i++) {
        const g = gates[i * E + e];
        const o = (i + 1) * d;
        for (let j = 0; j < d; j++) eff[o + j] += g * y[i * d + j];
      }
    }
    this.saved = { gates, outs };
  }

  /**
   * Adaptor gradients (into thread 0) from dẼ: the item-table gradients of threads 0…threadsUsed−1
   * (rows 1…nItems), which the kernels accumulated as if Ẽ were the parameter.
   */
  backward(itemGrads: readonly Buf<Float32Array>[], threadsUsed: number): void {
    if (!this.saved) throw new Error('item knowledge: backward before forward');
    const { d, nItems: n } = this;
    const E = this.cfg.experts;
    const dF = new Float32Array(n * d);
    for (let w = 0; w < threadsUsed; w++) {
      const g = itemGrads[w].a;
      for (let k = 0; k < n * d; k++) dF[k] += g[d + k];
    }
    const { gates, outs } = this.saved;
    const K = this.table.data.ptr;
    const dGate = new Float32Array(n * E);
    const dy = this.dOut.a;
    for (let e = 0; e < E; e++) {
      const y = new Float32Array(this.engine.memory.buffer, outs[e], n * d);
      for (let i = 0; i < n; i++) {
        const g = gates[i * E + e];
        let s = 0;
        for (let j = 0; j < d; j++) {
          const v = dF[i * d + j];
          s += v * y[i * d + j];
          dy[i * d + j] = g * v;
        }
        dGate[i * E + e] = s;
      }
      this.experts[e].backward(K, this.dOut.ptr, null, n);
    }
    // softmax: dz_e = α_e (dα_e − Σ_f α_f dα_f)
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let e = 0; e < E; e++) dot += gates[i * E + e] * dGate[i * E + e];
      for (let e = 0; e < E; e++) dy[i * E + e] = gates[i * E + e] * (dGate[i * E + e] - dot);
    }
    this.gate.backward(K, this.dOut.ptr, null, n);
  }
}
