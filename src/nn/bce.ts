/**
 * Binary cross-entropy on logits, the loss of every click model (CTR nets, re-rankers).
 */

/**
 * Mean over the n = y.length logits of BCE-with-logits(z, y), and ∂/∂z = (σ(z) − y)/n written
 * into dZ. Uses max(z, 0) − y·z + log(1 + e^{−|z|}): no overflow for large |z|.
 */
export function meanBceWithLogits(z: ArrayLike<number>, y: ArrayLike<number>, dZ: Float32Array): number {
  const n = y.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = z[i];
    s += Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))) - y[i] * x;
    dZ[i] = (1 / (1 + Math.exp(-x)) - y[i]) / n;
  }
  return s / n;
}
