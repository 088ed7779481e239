// AssemblyScript source: the GRU cell's pointwise part (torch.nn.GRUCell semantics, gate order
// r, z, n). The two matrix products Gi = x·W_ihᵀ + b_ih and Gh = h·W_hhᵀ + b_hh ([B × 3H]
// each) are gemm calls made by the layer; this kernel does the rest:
//   r = σ(Gi_r + Gh_r),  z = σ(Gi_z + Gh_z),  n = tanh(Gi_n + r ⊙ Gh_n),  h' = (1 − z) ⊙ n + z ⊙ h
// and saves r, z, n, Gh_n per row ([B × 4H]) for the backward.

import { expf } from './elementwise';

// @ts-ignore: decorator
@inline function fp(base: usize, i: i32): usize { return base + (<usize>i << 2); }
// @ts-ignore: decorator
@inline function sigm(x: f32): f32 { return 1 / (1 + expf(-x)); }

/** Forward of B rows: writes Hout [B × H] and Saved [B × 4H]. */
export function gru_fwd(Hout: usize, Gi: usize, Gh: usize, Hprev: usize, Saved: usize, B: i32, H: i32): void {
  for (let b = 0; b < B; b++) {
    const gi = fp(Gi, b * 3 * H), gh = fp(Gh, b * 3 * H), h = fp(Hprev, b * H), ho = fp(Hout, b * H), sv = fp(Saved, b * 4 * H);
    for (let j = 0; j < H; j++) {
      const r = sigm(load<f32>(fp(gi, j)) + load<f32>(fp(gh, j)));
      const z = sigm(load<f32>(fp(gi, H + j)) + load<f32>(fp(gh, H + j)));
      const hn = load<f32>(fp(gh, 2 * H + j));
      const n: f32 = <f32>2 * sigm(<f32>2 * (load<f32>(fp(gi, 2 * H + j)) + r * hn)) - 1; // tanh
      store<f32>(fp(ho, j), (1 - z) * n + z * load<f32>(fp(h, j)));
      store<f32>(fp(sv, j), r);
      store<f32>(fp(sv, H + j), z);
      store<f32>(fp(sv, 2 * H + j), n);
      store<f32>(fp(sv, 3 * H + j), hn);
    }
  }
}

/**
 * Backward of B rows from dHout: writes dGi, dGh [B × 3H] (the gradients of the two gate
 * pre-activations, to be pushed through the gemms) and adds the direct path z ⊙ dh' into dHprev.
 */
export function gru_bwd(dGi: usize, dGh: usize, dHprev: usize, dHout: usize, Hprev: usize, Saved: usize, B: i32, H: i32): void {
  for (let b = 0; b < B; b++) {
    const dgi = fp(dGi, b * 3 * H), dgh = fp(dGh, b * 3 * H), sv = fp(Saved, b * 4 * H);
    const h = fp(Hprev, b * H), dh = fp(dHprev, b * H), dho = fp(dHout, b * H);
    for (let j = 0; j < H; j++) {
      const r = load<f32>(fp(sv, j)), z = load<f32>(fp(sv, H + j)), n = load<f32>(fp(sv, 2 * H + j)), hn = load<f32>(fp(sv, 3 * H + j));
      const g = load<f32>(fp(dho, j));
      const hp = load<f32>(fp(h, j));
      const dnPre = g * (1 - z) * (1 - n * n);
      const dzPre = g * (hp - n) * z * (1 - z);
      const drPre = dnPre * hn * r * (1 - r);
      store<f32>(fp(dgi, j), drPre);
      store<f32>(fp(dgi, H + j), dzPre);
      store<f32>(fp(dgi, 2 * H + j), dnPre);
      store<f32>(fp(dgh, j), drPre);
      store<f32>(fp(dgh, H + j), dzPre);
      store<f32>(fp(dgh, 2 * H + j), dnPre * r);
      store<f32>(fp(dh, j), load<f32>(fp(dh, j)) + g * z);
    }
  }
}
