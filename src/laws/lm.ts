/**
 * A small bounded Levenberg–Marquardt least-squares solver (dense, for a handful of parameters).
 *
 * Why our own instead of `ml-levenberg-marquardt` (installed): the performance law mixes
 * parameters of very different scales (weights ~0.01–1, exponents ~0.1, ln D ~ ±5, offsets ~0.3)
 * and is nearly rank-deficient when a parameter does not matter for the data at hand (e.g. w5
 * when every point has the same D). That package damps with λ·I (Levenberg), which is not
 * invariant to parameter scale, handles bounds by clipping after the step without an active set,
 * and has no accept/reject of steps on the actual cost, so on this problem a bad start wanders or
 * stalls. This solver uses
 *   - Marquardt's scaled damping (JᵀJ + λ·diag(JᵀJ)) δ = Jᵀr, invariant to rescaling parameters;
 *   - a gain test: a step is taken only when the true sum of squares falls, then λ shrinks,
 *     otherwise λ grows and the step is retried (the classic trust-region reading of LM);
 *   - bounds by projection with an active set: a parameter sitting on a bound whose gradient
 *     points out of the box is held for that iteration, so the others still move;
 *   - a floor on the diagonal, so a parameter with no influence gets a zero step, not a NaN.
 * Multiple starts (which this problem needs) are the caller's job (see fit.ts).
 */

/** A least-squares problem: minimise Σ r_i(θ)² with r = y − model(θ), θ inside a box. */
export interface LmProblem {
  /** Number of residuals. */
  nResiduals: number;
  /** Number of parameters. */
  nParams: number;
  /** Writes r_i = y_i − model_i(θ) into `out`. */
  residuals(theta: Float64Array, out: Float64Array): void;
  /** Writes J_ij = ∂model_i/∂θ_j into `out` (row-major, nResiduals × nParams). */
  jacobian(theta: Float64Array, out: Float64Array): void;
  /** Lower and upper bounds per parameter (use ±Infinity for none). */
  lower: ArrayLike<number>;
  upper: ArrayLike<number>;
}

/** Solver settings. */
export interface LmOptions {
  /** Maximum number of iterations (accepted or rejected steps), default 500. */
  maxIterations?: number;
  /** Initial damping λ, default 1e-3. */
  initialDamping?: number;
  /** Stop when an accepted step lowers the cost by less than this fraction, default 1e-12. */
  relativeTolerance?: number;
}

/** The solver's answer. */
export interface LmResult {
  theta: Float64Array;
  /** Final sum of squared residuals. */
  sse: number;
  iterations: number;
  /** True when stopped by the tolerance rather than the iteration cap. */
  converged: boolean;
}

function sumSquares(r: Float64Array): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += r[i] * r[i];
  return s;
}

/**
 * Solves A x = v for a small dense symmetric positive (semi-)definite A by Gaussian elimination
 * with partial pivoting. Returns null when A is numerically singular.
 */
export function solveDense(A: Float64Array, v: Float64Array, n: number): Float64Array | null {
  const M = Float64Array.from(A);
  const x = Float64Array.from(v);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[piv * n + c])) piv = r;
    if (!(Math.abs(M[piv * n + c]) > 1e-300)) return null;
    if (piv !== c) {
      for (let k = 0; k < n; k++) [M[c * n + k], M[piv * n + k]] = [M[piv * n + k], M[c * n + k]];
      [x[c], x[piv]] = [x[piv], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      if (f === 0) continue;
      for (let k = c; k < n; k++) M[r * n + k] -= f * M[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= M[r * n + k] * x[k];
    x[r] = s / M[r * n + r];
  }
  return x;
}

/** Minimises Σ r² from `theta0` (clamped into the box) with bounded Levenberg–Marquardt. */
export function levenbergMarquardt(problem: LmProblem, theta0: ArrayLike<number>, options: LmOptions = {}): LmResult {
  const { nResiduals: n, nParams: p, lower, upper } = problem;
  const maxIterations = options.maxIterations ?? 500;
  const tol = options.relativeTolerance ?? 1e-12;
  let lambda = options.initialDamping ?? 1e-3;
  const clamp = (v: number, j: number): number => Math.min(upper[j], Math.max(lower[j], v));

  let theta = Float64Array.from(theta0, clamp);
  const r = new Float64Array(n);
  const rTrial = new Float64Array(n);
  const J = new Float64Array(n * p);
  const JtJ = new Float64Array(p * p);
  const Jtr = new Float64Array(p);
  problem.residuals(theta, r);
  let sse = sumSquares(r);
  if (!Number.isFinite(sse)) throw new Error('levenbergMarquardt: the starting point gives a non-finite cost');

  let needJacobian = true;
  let iterations = 0;
  let converged = false;
  let smallSteps = 0;
  while (iterations < maxIterations) {
    iterations++;
    if (needJacobian) {
      problem.jacobian(theta, J);
      JtJ.fill(0);
      Jtr.fill(0);
      for (let i = 0; i < n; i++) {
        const row = i * p;
        for (let a = 0; a < p; a++) {
          const ja = J[row + a];
          if (ja === 0) continue;
          Jtr[a] += ja * r[i];
          for (let b = a; b < p; b++) JtJ[a * p + b] += ja * J[row + b];
        }
      }
      for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) JtJ[a * p + b] = JtJ[b * p + a];
      needJacobian = false;
    }
    // Active set: a parameter on a bound whose descent direction (Jᵀr points downhill) leaves
    // the box is held fixed this iteration.
    const active: number[] = [];
    for (let j = 0; j < p; j++) {
      const atLower = theta[j] <= lower[j] && Jtr[j] < 0;
      const atUpper = theta[j] >= upper[j] && Jtr[j] > 0;
      if (!atLower && !atUpper) active.push(j);
    }
    const q = active.length;
    if (q === 0) {
      converged = true;
      break;
    }
    let maxDiag = 0;
    for (const j of active) maxDiag = Math.max(maxDiag, JtJ[j * p + j]);
    if (maxDiag === 0) {
      converged = true; // the model does not depend on any free parameter here
      break;
    }
    const A = new Float64Array(q * q);
    const v = new Float64Array(q);
    for (let a = 0; a < q; a++) {
      const ja = active[a];
      v[a] = Jtr[ja];
      for (let b = 0; b < q; b++) A[a * q + b] = JtJ[ja * p + active[b]];
      // Marquardt scaling, with a floor so a parameter the data does not constrain stays put.
      A[a * q + a] += lambda * Math.max(JtJ[ja * p + ja], 1e-12 * maxDiag) + 1e-15 * maxDiag;
    }
    const delta = solveDense(A, v, q);
    if (!delta) {
      lambda *= 10;
      if (lambda > 1e20) break;
      continue;
    }
    const trial = Float64Array.from(theta);
    let stepNorm = 0;
    for (let a = 0; a < q; a++) {
      const j = active[a];
      trial[j] = clamp(theta[j] + delta[a], j);
      stepNorm = Math.max(stepNorm, Math.abs(trial[j] - theta[j]) / (Math.abs(theta[j]) + 1e-8));
    }
    problem.residuals(trial, rTrial);
    const sseTrial = sumSquares(rTrial);
    if (Number.isFinite(sseTrial) && sseTrial < sse) {
      const gain = (sse - sseTrial) / Math.max(sse, 1e-300);
      theta = trial;
      r.set(rTrial);
      sse = sseTrial;
      lambda = Math.max(lambda / 10, 1e-12);
      needJacobian = true;
      smallSteps = gain < tol || stepNorm < 1e-12 ? smallSteps + 1 : 0;
      if (smallSteps >= 3 || sse === 0) {
        converged = true;
        break;
      }
    } else {
      lambda *= 10;
      // Damping this large means no step of any useful size lowers the cost: a (local) minimum.
      if (lambda > 1e16 || stepNorm < 1e-14) {
        converged = true;
        break;
      }
    }
  }
  return { theta, sse, iterations, converged };
}
