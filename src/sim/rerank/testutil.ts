/**
 * Float64 references of the engine re-rankers' batch losses, written out plainly from the maths in
 * relife.ts and din.ts (row arrays, no engine), reading the weights by parameter name: what the
 * gradient checks differentiate by central differences.
 */
import type { ItemCategories } from '../env.ts';
import { pastItems, type LabelledList, type RerankNetConfig } from './encoder.ts';

type W = Map<string, Float64Array>;
type Rows = number[][];

const add = (A: Rows, B: Rows): Rows => A.map((r, i) => r.map((v, j) => v + B[i][j]));
const meanRows = (A: Rows): number[] => A[0].map((_, j) => A.reduce((s, r) => s + r[j], 0) / A.length);
const relu = (A: Rows): Rows => A.map((r) => r.map((v) => Math.max(0, v)));

/** X·Wᵀ (+ b), W stored [out × in] as torch.nn.Linear. */
function lin(X: Rows, w: Float64Array, b?: Float64Array): Rows {
  const inF = X[0]?.length ?? 0, out = w.length / Math.max(1, inF);
  return X.map((x) => Array.from({ length: out }, (_, o) => x.reduce((s, v, i) => s + v * w[o * inF + i], b ? b[o] : 0)));
}

/** softmax(Q·Wqᵀ·(K·Wkᵀ)ᵀ/√d)·K·Wvᵀ; zeros when K is empty. */
function attention(w: W, name: string, Qin: Rows, Kin: Rows, d: number): Rows {
  if (Kin.length === 0) return Qin.map(() => new Array<number>(d).fill(0));
  const Q = lin(Qin, w.get(`${name}.wq.weight`)!), K = lin(Kin, w.get(`${name}.wk.weight`)!), V = lin(Kin, w.get(`${name}.wv.weight`)!);
  return Q.map((q) => {
    const z = K.map((k) => q.reduce((s, v, j) => s + v * k[j], 0) / Math.sqrt(d));
    const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), sum = e.reduce((a, b) => a + b, 0);
    return Array.from({ length: d }, (_, j) => e.reduce((s, a, t) => s + (a / sum) * V[t][j], 0));
  });
}

function encoder(w: W, cats: ItemCategories, d: number): (i: number) => number[] {
  const E = w.get('item.emb')!, G = w.get('item.genre')!;
  return (i) => Array.from({ length: d }, (_, j) => {
    const a = cats.offsets[i], b = cats.offsets[i + 1];
    let g = 0;
    for (let k = a; k < b; k++) g += G[cats.values[k] * d + j] / (b - a);
    return E[i * d + j] + g;
  });
}

const row = (w: W, name: string, i: number, d: number): number[] => Array.from(w.get(name)!.subarray(i * d, i * d + d));

function bceSum(z: number[], y: ArrayLike<number>): number {
  return z.reduce((s, x, i) => s + Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))) - y[i] * x, 0);
}

/** −(1/B) Σ_b log softmax_c(p̂_b·û_c/τ)[b]. */
export function infoNceRef(P: Rows, U: Rows, tau: number): number {
  const nrm = (r: number[]): number[] => {
    const n = Math.sqrt(r.reduce((a, v) => a + v * v, 0));
    return r.map((v) => v / n);
  };
  const Ph = P.map(nrm), Uh = U.map(nrm);
  return -Ph.reduce((L, p, b) => {
    const z = Uh.map((u) => p.reduce((s, v, j) => s + v * u[j], 0) / tau);
    const m = Math.max(...z);
    return L + z[b] - m - Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  }, 0) / P.length;
}

const scorer = (w: W, X: Rows, name: string): number[] => lin(relu(lin(X, w.get(`${name}.0.weight`)!, w.get(`${name}.0.bias`)!)), w.get(`${name}.1.weight`)!, w.get(`${name}.1.bias`)!).map((r) => r[0]);

/** RELIFE's loss of a batch: mean BCE over all candidates + λ·InfoNCE (when ≥ 2 users have past lists). */
export function relifeLossRef(w: W, cfg: RerankNetConfig, cats: ItemCategories, disinterest: boolean, batch: readonly LabelledList[], lambda: number, tau: number): number {
  const d = cfg.dims, enc = encoder(w, cats, d);
  const pattern = (items: ArrayLike<number>, fb: (p: number) => number): { Y: Rows; g: number[] } => {
    const X = Array.from(items, (i, p) => enc(i).map((v, j) => v + row(w, 'pattern.feedback', fb(p), d)[j] + row(w, 'pattern.position', p, d)[j]));
    const Y = add(X, attention(w, 'pattern.self', X, X, d));
    return { Y, g: lin([meanRows(Y)], w.get('pattern.w.weight')!)[0] };
  };
  let bce = 0, n = 0;
  const P: Rows = [], U: Rows = [];
  for (const x of batch) {
    const cand = Array.from(x.candidates, enc);
    const rPos = attention(w, 'interest', cand, pastItems(x, 1).map(enc), d);
    const rNeg = disinterest ? attention(w, 'disinterest', cand, pastItems(x, 0).map(enc), d) : [];
    const Xm: Rows = [];
    x.past.forEach((l, h) => l.items.forEach((i, k) => {
      const age = Math.min(x.past.length - 1 - h, cfg.maxHistory - 1);
      Xm.push(enc(i).map((v, j) => v + row(w, 'mixer.feedback', l.clicks[k], d)[j] + row(w, 'mixer.age', age, d)[j]));
    }));
    const Z = Xm.length ? add(Xm, attention(w, 'mixer.self', Xm, Xm, d)) : [];
    const rMix = attention(w, 'mixer.target', cand, Z, d);
    const c = pattern(x.candidates, () => 2);
    const inp = cand.map((e, i) => [...e, ...c.Y[i], ...rPos[i], ...(disinterest ? rNeg[i] : []), ...rMix[i], ...c.g, x.scores[i]]);
    bce += bceSum(scorer(w, inp, 'scorer'), x.clicks);
    n += x.clicks.length;
    if (lambda > 0 && x.past.length > 0) {
      P.push(c.g);
      U.push(meanRows(x.past.map((l) => pattern(l.items, (p) => l.clicks[p]).g)));
    }
  }
  return bce / n + (P.length >= 2 ? lambda * infoNceRef(P, U, tau) : 0);
}

/** The DIN-style re-ranker's loss of a batch: mean BCE over all candidates. */
export function dinLossRef(w: W, cfg: RerankNetConfig, cats: ItemCategories, batch: readonly LabelledList[]): number {
  const d = cfg.dims, enc = encoder(w, cats, d);
  let bce = 0, n = 0;
  for (const x of batch) {
    const H = pastItems(x, 1).map(enc);
    const inp = Array.from(x.candidates, (i, c) => {
      const q = enc(i);
      const a = H.length ? scorer(w, H.map((h) => [...h, ...q, ...h.map((v, j) => v - q[j]), ...h.map((v, j) => v * q[j])]), 'attention') : [];
      const v = q.map((_, j) => H.reduce((s, h, t) => s + a[t] * h[j], 0));
      return [...q, ...v, x.scores[c]];
    });
    bce += bceSum(scorer(w, inp, 'scorer'), x.clicks);
    n += x.clicks.length;
  }
  return bce / n;
}
