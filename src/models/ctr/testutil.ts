/**
 * Float64 references of the CTR networks, written from the papers' formulas independently of the
 * engine code, for the finite-difference gradient checks (src/nn/gradcheck.ts pattern): the
 * reference's central differences of Σ R ⊙ z must match the engine's backward fed ∂L/∂z = R.
 */
import type { KnowledgeTables } from './adaptor.ts';
import type { CtrBatch, CtrSchema } from './batch.ts';

type P = (name: string) => Float64Array;

const relu = (v: number): number => (v > 0 ? v : 0);

/** y = W x + b with W [out × in] row-major. */
function lin(W: Float64Array, b: Float64Array | null, x: number[], out: number): number[] {
  const inF = x.length;
  return Array.from({ length: out }, (_, o) => {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inF; i++) s += W[o * inF + i] * x[i];
    return s;
  });
}

function mlp(p: P, name: string, x: number[], sizes: number[], lastAct: boolean): number[] {
  let h = x;
  for (let l = 0; l < sizes.length - 1; l++) {
    h = lin(p(`${name}.${l}.weight`), p(`${name}.${l}.bias`), h, sizes[l + 1]);
    if (l < sizes.length - 2 || lastAct) h = h.map(relu);
  }
  return h;
}

export interface RefSpec {
  model: 'lr' | 'fm' | 'deepfm' | 'dcnv2' | 'din' | 'autoint';
  d: number;
  hidden: number[];
  knowledge?: { k: KnowledgeTables; shared: number; dedicated: number; hidden: number };
  crossLayers?: number;
  attHidden?: number;
  layers?: number;
  heads?: number;
  /** DIN: behaviours read per row (the last ones). */
  maxHistory?: number;
}

/** Logits of every row of `b`, in float64. */
export function referenceLogits(p: P, s: CtrSchema, b: CtrBatch, spec: RefSpec): number[] {
  const { d } = spec;
  const F = s.nSingle;
  const E = p('embedding.weight');
  const w = p('linear.weight');
  const row = (id: number): number[] => Array.from(E.subarray(id * d, id * d + d));
  const add = (a: number[], c: number[], k = 1): number[] => a.map((v, j) => v + k * c[j]);
  const out: number[] = [];
  for (let r = 0; r < b.n; r++) {
    const fields: number[][] = [];
    let first = p('linear.bias')[0];
    for (let f = 0; f < F; f++) {
      fields.push(row(b.cat[r * F + f]));
      first += w[b.cat[r * F + f]];
    }
    let g = new Array<number>(d).fill(0);
    const ng = b.genreOff[r + 1] - b.genreOff[r];
    for (let k = b.genreOff[r]; k < b.genreOff[r + 1]; k++) {
      g = add(g, row(b.genres[k]), 1 / ng);
      first += w[b.genres[k]] / ng;
    }
    fields.push(g);
    const hs: number[][] = [];
    for (let k = b.histOff[r]; k < b.histOff[r + 1]; k++) hs.push(add(row(b.histItem[k]), row(b.histRating[k])));
    if (spec.model === 'din') {
      const q = fields[s.itemField];
      let v = new Array<number>(d).fill(0);
      for (const h of hs.slice(-(spec.maxHistory ?? hs.length) || hs.length)) {
        const a = mlp(p, 'attention', [...h, ...q, ...h.map((x, j) => x - q[j]), ...h.map((x, j) => x * q[j])], [4 * d, spec.attHidden!, 1], false)[0];
        v = add(v, h, a);
      }
      fields.push(v);
    } else {
      let v = new Array<number>(d).fill(0);
      for (const h of hs) v = add(v, h, 1 / hs.length);
      fields.push(v);
    }
    if (spec.knowledge) {
      const { k, shared, dedicated, hidden } = spec.knowledge;
      const side = (x: number[], who: 'user' | 'item'): number[] => {
        const E2 = shared + dedicated;
        const zg = lin(p(`adaptor.${who}_gate.0.weight`), p(`adaptor.${who}_gate.0.bias`), x, E2);
        const m = Math.max(...zg);
        const ex = zg.map((z) => Math.exp(z - m));
        const sum = ex.reduce((a2, c) => a2 + c, 0);
        let o = new Array<number>(d).fill(0);
        for (let e = 0; e < E2; e++) {
          const name = e < shared ? `adaptor.shared.${e}` : `adaptor.${who}.${e - shared}`;
          o = add(o, mlp(p, name, x, [k.dim, hidden, d], false), ex[e] / sum);
        }
        return o;
      };
      fields.push(side(Array.from(k.user.subarray(b.user[r] * k.dim, (b.user[r] + 1) * k.dim)), 'user'));
      fields.push(side(Array.from(k.item.subarray(b.item[r] * k.dim, (b.item[r] + 1) * k.dim)), 'item'));
    }
    const flat = fields.flat();
    const fm = (): number => {
      let t = 0;
      for (let f = 0; f < fields.length; f++) for (let f2 = f + 1; f2 < fields.length; f2++) for (let j = 0; j < d; j++) t += fields[f][j] * fields[f2][j];
      return t;
    };
    let z: number;
    switch (spec.model) {
      case 'lr': {
        z = first;
        if (spec.knowledge) {
          const v = p('knowledge_linear.weight');
          fields.slice(F + 2).flat().forEach((x, j) => (z += v[j] * x));
        }
        break;
      }
      case 'fm':
        z = first + fm();
        break;
      case 'deepfm':
        z = first + fm() + mlp(p, 'deep', flat, [flat.length, ...spec.hidden, 1], false)[0];
        break;
      case 'dcnv2': {
        let x = flat;
        for (let l = 0; l < spec.crossLayers!; l++) {
          const u = lin(p(`cross.${l}.weight`), p(`cross.${l}.bias`), x, flat.length);
          x = x.map((xv, j) => flat[j] * u[j] + xv);
        }
        const h = mlp(p, 'deep', flat, [flat.length, ...spec.hidden], true);
        z = lin(p('out.cross.weight'), p('out.cross.bias'), x, 1)[0] + lin(p('out.deep.weight'), null, h, 1)[0];
        break;
      }
      case 'din':
        z = mlp(p, 'deep', flat, [flat.length, ...spec.hidden, 1], false)[0];
        break;
      case 'autoint': {
        let toks = fields;
        const H = spec.heads!;
        const dh = d / H;
        for (let l = 0; l < spec.layers!; l++) {
          const Wi = p(`interacting.${l}.att.in_proj_weight`);
          const bi = p(`interacting.${l}.att.in_proj_bias`);
          const qkv = toks.map((t) => lin(Wi, bi, t, 3 * d));
          const next = toks.map((t, m) => {
            const att = new Array<number>(d).fill(0);
            for (let h = 0; h < H; h++) {
              const sc = toks.map((_, k2) => {
                let sdot = 0;
                for (let j = 0; j < dh; j++) sdot += qkv[m][h * dh + j] * qkv[k2][d + h * dh + j];
                return sdot / Math.sqrt(dh);
              });
              const mx = Math.max(...sc);
              const ex = sc.map((v) => Math.exp(v - mx));
              const sum = ex.reduce((a2, c) => a2 + c, 0);
              toks.forEach((_, k2) => {
                for (let j = 0; j < dh; j++) att[h * dh + j] += (ex[k2] / sum) * qkv[k2][2 * d + h * dh + j];
              });
            }
            const o = lin(p(`interacting.${l}.att.out_proj.weight`), p(`interacting.${l}.att.out_proj.bias`), att, d);
            const res = lin(p(`interacting.${l}.res.weight`), null, t, d);
            return o.map((v, j) => relu(v + res[j]));
          });
          toks = next;
        }
        z = lin(p('out.weight'), p('out.bias'), toks.flat(), 1)[0];
        break;
      }
    }
    out.push(z);
  }
  return out;
}
