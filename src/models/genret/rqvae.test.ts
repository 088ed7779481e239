import { describe, expect, it } from 'vitest';
import { RQVAE } from './rqvae.ts';
import { kmeans } from './kmeans.ts';
import { numericGrad, maxRelError } from '../../nn/gradcheck.ts';
import { Rng } from '../../util/rng.ts';

/** Float64 forward of an MLP given flat parameters [W₀ (out×in), b₀, W₁, b₁, …] read from θ at `off`. */
function mlp64(theta: Float64Array, off: number, dims: number[], x: Float64Array): { y: Float64Array; next: number } {
  let h = x;
  let o = off;
  for (let i = 0; i + 1 < dims.length; i++) {
    const [din, dout] = [dims[i], dims[i + 1]];
    const y = new Float64Array(dout);
    for (let r = 0; r < dout; r++) {
      let s = theta[o + din * dout + r];
      for (let c = 0; c < din; c++) s += theta[o + r * din + c] * h[c];
      y[r] = i + 2 < dims.length ? Math.max(0, s) : s;
    }
    o += din * dout + dout;
    h = y;
  }
  return { y: h, next: o };
}

describe('RQ-VAE', () => {
  it('its gradients (straight-through, commitment, codebook terms) match finite differences of the frozen surrogate loss', () => {
    const inDim = 6, n = 7;
    const cfg = { levels: 2, codebookSize: 4, latent: 3, hidden: [5], beta: 0.25, batchSize: 8 };
    const rq = new RQVAE(cfg, inDim);
    const rng = new Rng(3);
    rq.init(rng);
    const x = new Float32Array(n * inDim).map(() => rng.normal());
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    rq.initCodebooks(x, rows, rng);
    const { q } = rq.lossAndGrads(x, rows);
    // flatten θ in ParamSet order (encoder W,b…, decoder W,b…, codebooks) and the analytic gradient
    const list = rq.params.list;
    const size = list.reduce((a, p) => a + p.size, 0);
    const theta = new Float64Array(size), analytic = new Float64Array(size);
    let o = 0;
    for (const p of list) {
      theta.set(p.data.a, o);
      analytic.set(p.grads[0].a, o);
      o += p.size;
    }
    const encDims = [inDim, 5, 3], decDims = [3, 5, inDim];
    const encSize = 6 * 5 + 5 + 5 * 3 + 3, decSize = 3 * 5 + 5 + 5 * 6 + 6;
    const cbOff = encSize + decSize;
    const { latent, levels, beta } = { latent: 3, levels: 2, beta: 0.25 };
    // frozen values at θ₀: ẑ − z, the residuals r_l, the chosen codewords e_l and their partial sums
    const z0 = (i: number): Float64Array => mlp64(theta, 0, encDims, Float64Array.from(x.subarray(i * inDim, (i + 1) * inDim))).y;
    const frozen = Array.from({ length: n }, (_, i) => {
      const z = z0(i);
      const shift = Float64Array.from({ length: latent }, (_, t) => q.zq[i * latent + t] - z[t]);
      const R = Array.from({ length: levels }, (_, l) => Float64Array.from(q.residuals.subarray((l * n + i) * latent, (l * n + i + 1) * latent)));
      const E = Array.from({ length: levels }, (_, l) => {
        const k = q.codes[i * levels + l];
        return Float64Array.from({ length: latent }, (_, t) => theta[cbOff + (l * 4 + k) * latent + t]);
      });
      return { shift, R, E };
    });
    const f = (th: Float64Array): number => {
      let loss = 0;
      for (let i = 0; i < n; i++) {
        const xi = Float64Array.from(x.subarray(i * inDim, (i + 1) * inDim));
        const z = mlp64(th, 0, encDims, xi).y;
        const zin = z.map((v, t) => v + frozen[i].shift[t]);
        const xh = mlp64(th, encSize, decDims, zin).y;
        for (let t = 0; t < inDim; t++) loss += (xi[t] - xh[t]) ** 2;
        const S = new Float64Array(latent);
        for (let l = 0; l < levels; l++) {
          const k = q.codes[i * levels + l];
          for (let t = 0; t < latent; t++) {
            const e = th[cbOff + (l * 4 + k) * latent + t];
            loss += (frozen[i].R[l][t] - e) ** 2;
            loss += beta * (z[t] - S[t] - frozen[i].E[l][t]) ** 2;
          }
          for (let t = 0; t < latent; t++) S[t] += frozen[i].E[l][t];
        }
      }
      return loss / n;
    };
    // the surrogate's value at θ₀ is the loss the model reports
    const numeric = numericGrad(f, theta);
    expect(maxRelError(analytic, numeric)).toBeLessThan(2e-3);
  });

  it('k-means separates well-apart blobs', () => {
    const rng = new Rng(1);
    const n = 60, dim = 2;
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      x[i * 2] = c * 10 + 0.1 * rng.normal();
      x[i * 2 + 1] = -c * 10 + 0.1 * rng.normal();
    }
    const km = kmeans(x, n, dim, 3, rng);
    for (let i = 3; i < n; i++) expect(km.assign[i]).toBe(km.assign[i % 3]);
    expect(new Set([km.assign[0], km.assign[1], km.assign[2]]).size).toBe(3);
    expect(km.inertia).toBeLessThan(n * 0.1);
  });

  it('restarts dead codes and learns to reconstruct clustered data', () => {
    const rng = new Rng(5);
    const n = 200, inDim = 8;
    const centres = Array.from({ length: 16 }, () => Float32Array.from({ length: inDim }, () => rng.normal()));
    const x = new Float32Array(n * inDim);
    for (let i = 0; i < n; i++) for (let t = 0; t < inDim; t++) x[i * inDim + t] = centres[i % 16][t] + 0.05 * rng.normal();
    // no k-means init: random codebooks leave many codes dead at first
    const rq = new RQVAE({ levels: 2, codebookSize: 16, latent: 4, hidden: [16], epochs: 60, batchSize: 64, lr: 3e-3, kmeansInit: false }, inDim);
    const hist = rq.fit(x, n, 7);
    expect(hist.slice(0, 5).reduce((a, e) => a + e.restarts, 0)).toBeGreaterThan(0);
    expect(hist[hist.length - 1].recon).toBeLessThan(hist[0].recon * 0.5);
    expect(hist[hist.length - 1].used[0]).toBeGreaterThan(8);
    const { codes } = rq.codesOf(x, n);
    expect(codes.length).toBe(n * 2);
  });
});
