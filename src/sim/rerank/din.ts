/**
 * The DIN-style re-ranker (Zhou et al. 2018, as src/models/ctr/din.ts) on the engine: clicked past
 * items only, no negative feedback. For candidate c with encoding e_c (encoder.ts) and clicked
 * items h_j,
 *
 *   a_cj = MLP_att([h_j, e_c, h_j − e_c, h_j ⊙ e_c])   (4d → hidden → 1, no softmax: DIN keeps the
 *                                                       intensity of interest)
 *   v_c  = Σ_j a_cj h_j,    logit_c = MLP([e_c, v_c, s_c])   (s_c the scaled ranker score).
 *
 * Loss: mean BCE over the batch's candidates. The (candidate, clicked item) pairs of a whole batch
 * go through the attention MLP in one call; pooling and the pair features are loops over engine
 * memory, as in the CTR DIN head.
 */
import { defaultEngine, type Engine } from '../../kernels/engine.ts';
import { Mlp } from '../../models/ctr/mlp.ts';
import { ParamSet } from '../../nn/params.ts';
import { Rng } from '../../nn/rng.ts';
import { Scratch } from '../../nn/scratch.ts';
import type { ItemCategories } from '../env.ts';
import { ItemEncoder, offsets, pastItems, type BatchLoss, type EngineReranker, type LabelledList, type RerankInput, type RerankNetConfig } from './encoder.ts';
import { meanBceWithLogits } from '../../nn/bce.ts';

/** Index arrays of one batch: encoded rows [candidates | clicked], offsets per example, pair offsets. */
interface Plan {
  B: number;
  ids: Int32Array;
  cand: Int32Array;
  pos: Int32Array;
  /** First pair row of each example (pairs c·m + j within it). */
  pairs: Int32Array;
  scores: Float64Array;
}

export class DinReranker implements EngineReranker {
  readonly name = 'din';
  readonly engine: Engine;
  readonly params: ParamSet;
  readonly items: ItemEncoder;
  readonly att: Mlp;
  readonly scorer: Mlp;
  private readonly s: Scratch;
  /** The last forward's batch and attention weights a_cj (for the backward). */
  private last: { p: Plan; a: Float32Array } | null = null;

  constructor(readonly config: RerankNetConfig, cats: ItemCategories) {
    const { dims: d, hidden, batch, maxList, maxHistory } = config;
    const e = (this.engine = defaultEngine());
    const ps = (this.params = new ParamSet(e, 1, this));
    this.items = new ItemEncoder(ps, cats, config.nItems, d);
    // clicked items are at most every item of maxHistory lists of ≤ maxList items
    this.att = new Mlp(ps, 'attention', [4 * d, hidden, 1], batch * maxList * maxHistory * maxList);
    this.scorer = new Mlp(ps, 'scorer', [2 * d + 1, hidden, 1], batch * maxList);
    this.s = new Scratch(e, this);
    const rng = new Rng(config.seed);
    this.items.init(rng);
    this.att.init(rng);
    this.scorer.init(rng);
  }

  private plan(xs: readonly RerankInput[]): Plan {
    if (xs.length > this.config.batch) throw new Error(`DIN re-ranker: ${xs.length} lists in one forward, at most ${this.config.batch}`);
    const clicked = xs.map((x) => pastItems(x, 1));
    const nc = xs.map((x) => x.candidates.length);
    const scores = new Float64Array(nc.reduce((a, b) => a + b, 0));
    let c = 0;
    for (const x of xs) for (const v of x.scores) scores[c++] = v;
    return {
      B: xs.length,
      ids: Int32Array.from([...xs.flatMap((x) => [...x.candidates]), ...clicked.flat()]),
      cand: offsets(nc),
      pos: offsets(clicked.map((l) => l.length)),
      pairs: offsets(nc.map((n, b) => n * clicked[b].length)),
      scores,
    };
  }

  private forward(p: Plan): Float32Array {
    const e = this.engine, d = this.config.dims, S = this.s;
    const N = p.ids.length, Tc = p.cand[p.B], nPairs = p.pairs[p.B];
    const E = S.get('E', N * d), A = S.get('A', nPairs * 4 * d), Sin = S.get('Sin', Tc * (2 * d + 1));
    this.items.forward(e, S.ints32('ids', p.ids), N, E);
    const H = (b: number, j: number): number => (Tc + p.pos[b] + j) * d;
    for (let b = 0; b < p.B; b++) {
      const m = p.pos[b + 1] - p.pos[b];
      for (let c = p.cand[b]; c < p.cand[b + 1]; c++) {
        for (let j = 0; j < m; j++) {
          const r = (p.pairs[b] + (c - p.cand[b]) * m + j) * 4 * d, h = H(b, j);
          for (let t = 0; t < d; t++) {
            const hv = E.a[h + t], q = E.a[c * d + t];
            A.a[r + t] = hv;
            A.a[r + d + t] = q;
            A.a[r + 2 * d + t] = hv - q;
            A.a[r + 3 * d + t] = hv * q;
          }
        }
      }
    }
    const a = nPairs > 0 ? new Float32Array(e.memory.buffer, this.att.forward(A.ptr, nPairs), nPairs).slice() : new Float32Array(0);
    const w = 2 * d + 1;
    for (let b = 0; b < p.B; b++) {
      const m = p.pos[b + 1] - p.pos[b];
      for (let c = p.cand[b]; c < p.cand[b + 1]; c++) {
        const o = c * w;
        Sin.a.set(E.a.subarray(c * d, c * d + d), o);
        Sin.a.fill(0, o + d, o + 2 * d);
        for (let j = 0; j < m; j++) {
          const aj = a[p.pairs[b] + (c - p.cand[b]) * m + j], h = H(b, j);
          for (let t = 0; t < d; t++) Sin.a[o + d + t] += aj * E.a[h + t];
        }
        Sin.a[o + 2 * d] = p.scores[c];
      }
    }
    this.last = { p, a };
    return new Float32Array(e.memory.buffer, this.scorer.forward(Sin.ptr, Tc), Tc).slice();
  }

  private backward(dLogits: Float32Array): void {
    const { p, a } = this.last!;
    const e = this.engine, d = this.config.dims, S = this.s, w = 2 * d + 1;
    const N = p.ids.length, Tc = p.cand[p.B], nPairs = p.pairs[p.B];
    const E = S.get('E', 0), A = S.get('A', 0), Sin = S.get('Sin', 0);
    const dZ = S.get('dZ', Tc), dSin = S.get('dSin', Tc * w), dE = S.get('dE', N * d), da = S.get('da', nPairs), dA = S.get('dA', nPairs * 4 * d);
    dZ.a.set(dLogits);
    this.scorer.backward(Sin.ptr, dZ.ptr, dSin.ptr, Tc, false);
    e.k.zero(dE.ptr, N * d);
    const H = (b: number, j: number): number => (Tc + p.pos[b] + j) * d;
    for (let b = 0; b < p.B; b++) {
      const m = p.pos[b + 1] - p.pos[b];
      for (let c = p.cand[b]; c < p.cand[b + 1]; c++) {
        const o = c * w;
        for (let t = 0; t < d; t++) dE.a[c * d + t] += dSin.a[o + t];
        // ∂L/∂a_cj = ⟨∂L/∂v_c, h_j⟩;  ∂L/∂h_j += a_cj ∂L/∂v_c
        for (let j = 0; j < m; j++) {
          const r = p.pairs[b] + (c - p.cand[b]) * m + j, h = H(b, j);
          let s = 0;
          for (let t = 0; t < d; t++) {
            s += dSin.a[o + d + t] * E.a[h + t];
            dE.a[h + t] += a[r] * dSin.a[o + d + t];
          }
          da.a[r] = s;
        }
      }
    }
    if (nPairs > 0) this.att.backward(A.ptr, da.ptr, dA.ptr, nPairs, false);
    for (let b = 0; b < p.B; b++) {
      const m = p.pos[b + 1] - p.pos[b];
      for (let c = p.cand[b]; c < p.cand[b + 1]; c++) {
        for (let j = 0; j < m; j++) {
          const r = (p.pairs[b] + (c - p.cand[b]) * m + j) * 4 * d, h = H(b, j);
          const g = dA.a.subarray(r, r + 4 * d); // ∂L/∂[h, q, h − q, h ⊙ q] of this pair
          for (let t = 0; t < d; t++) {
            dE.a[h + t] += g[t] + g[2 * d + t] + g[3 * d + t] * E.a[c * d + t];
            dE.a[c * d + t] += g[d + t] - g[2 * d + t] + g[3 * d + t] * E.a[h + t];
          }
        }
      }
    }
    this.items.backward(e, S.ints32('ids', p.ids), N, dE);
  }

  logits(xs: readonly RerankInput[]): Float32Array[] {
    const p = this.plan(xs);
    const z = this.forward(p);
    return xs.map((_, b) => z.subarray(p.cand[b], p.cand[b + 1]));
  }

  lossAndGrad(batch: readonly LabelledList[]): BatchLoss {
    const p = this.plan(batch);
    const z = this.forward(p);
    const y = new Uint8Array(z.length);
    batch.forEach((x, b) => y.set(x.clicks, p.cand[b]));
    const dZ = new Float32Array(z.length);
    const bce = meanBceWithLogits(z, y, dZ);
    this.backward(dZ);
    return { loss: bce, bce, nce: 0 };
  }
}
