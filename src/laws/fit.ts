/**
 * Fitting the sequential-recommendation Performance Law (see law.ts) to observed sweep results,
 * across one or several datasets, with R², predictions, optima and leave-one-configuration-out
 * validation.
 *
 * Identifiability (why not all seven parameters are always fitted). Every point of one dataset
 * (one data group) shares the same D, so the data term f(D; w5) is one constant c for that group
 * and only c + b is seen: D, w5 and b cannot be told apart. In general, G groups give G such
 * constants for the unknowns {b, w5, the D's not measured}. The default, following the paper's
 * use of a measured proxy D′ = #tokens · ApEn:
 *   - a group whose points carry a measured D keeps it fixed;
 *   - w5 is fitted only when at least two distinct measured D values exist (e.g. data fractions
 *     or several datasets with measured D), otherwise it is held at DEFAULT_W5;
 *   - a group without a measured D gets its own fitted D (the issue's joint fit: shared
 *     w1–w4, one D per dataset); if no group has a measured D, the first group's D is anchored at
 *     1 so the others are measured relative to it;
 *   - w1–w4 and b are always fitted.
 * Callers may override all of this with `free` / `fixed`; the report says which were fitted.
 *
 * Multiple starts: the law is linear in (w1, w2, b) once the exponents are fixed, so each start
 * picks (w3, w4) from a small grid, solves that linear least-squares problem exactly, and hands
 * the result to bounded LM (lm.ts) over every free parameter. The best end point wins.
 */
import { levenbergMarquardt, solveDense } from './lm.ts';
import { lawGradient, lawTerm, lawValue, termOptimum, type LawParams, type ParamName, type TermOptimum } from './law.ts';

/** One observed result: a model of `layers` × `hidden` reached `y` (e.g. NDCG@10). */
export interface LawPoint {
  layers: number;
  hidden: number;
  y: number;
  /** Data group (dataset name, or dataset@fraction); default `default`. */
  group?: string;
  /** Measured data quality of the group (millions of interactions × ApEn), when known. */
  D?: number;
}

/** Fit settings. */
export interface FitOptions {
  /** Parameters to fit, overriding the identifiability defaults ('D' means every group's D). */
  free?: ParamName[];
  /** Values for fixed parameters (and starting values for free ones). `D` may be per group. */
  fixed?: Partial<Omit<LawParams, 'D'>> & { D?: number | Record<string, number> };
  /** Box constraints, overriding DEFAULT_BOUNDS. Bounds on D are in D units (not ln D). */
  bounds?: Partial<Record<ParamName, [number, number]>>;
  /** Starting exponents tried for w3 and w4 (default START_EXPONENTS). */
  startExponents?: number[];
}

/** Exponent of the data term when it cannot be fitted (see module comment). */
export const DEFAULT_W5 = -0.1;

/** Default box: wide enough never to bind on sane data, narrow enough to keep x^a finite. */
export const DEFAULT_BOUNDS: Record<ParamName, [number, number]> = {
  w1: [-1e3, 1e3],
  w2: [-1e3, 1e3],
  w3: [-3, 3],
  w4: [-3, 3],
  w5: [-3, 3],
  D: [1e-6, 1e9],
  b: [-1e3, 1e3],
};

/**
 * Exponent grid scanned for w3 and for w4 (all pairs): −2 … 1 in steps of 0.1. It only has to
 * land each start in the right basin; LM does the rest (a 0.05 step found the same optima on
 * every test problem at four times the cost).
 */
export const START_EXPONENTS = Array.from({ length: 31 }, (_, i) => Number((-2 + 0.1 * i).toFixed(2)));

/** How many of the scan's local minima (best first) are polished with LM. */
const POLISHED_STARTS = 6;

/** The result of a fit. */
export interface LawFit {
  /** Shared parameters, with D of the first group (see `groupD` for all). */
  params: LawParams;
  /** D of each group (measured or fitted). */
  groupD: Record<string, number>;
  /** Which parameters were fitted (`D:<group>` for per-group D). */
  free: string[];
  /** Coefficient of determination 1 − SSE/SST on the fitted points (NaN if SST = 0). */
  r2: number;
  /** Root-mean-square error. */
  rmse: number;
  /** Number of points fitted. */
  n: number;
  /** Optimum of the depth term (w1, w3) and of the width term (w2, w4). */
  optimum: { layers: TermOptimum; hidden: TermOptimum };
  /** Remarks on identifiability and convergence. */
  notes: string[];
}

/** Indices of the shared parameters in the fitted vector; per-group ln D follow. */
const SHARED: ParamName[] = ['w1', 'w2', 'w3', 'w4', 'w5', 'b'];

function validatePoints(points: readonly LawPoint[]): void {
  if (points.length === 0) throw new Error('law fit: no points');
  points.forEach((p, i) => {
    for (const [k, v] of [['layers', p.layers], ['hidden', p.hidden]] as const) {
      if (!(Number.isFinite(v) && v > 0)) throw new Error(`law fit: point ${i + 1}: ${k} must be a positive number, got ${v}`);
    }
    if (!Number.isFinite(p.y)) throw new Error(`law fit: point ${i + 1}: y must be a finite number, got ${p.y}`);
    if (p.D !== undefined && !(Number.isFinite(p.D) && p.D > 0)) throw new Error(`law fit: point ${i + 1}: D must be a positive number, got ${p.D}`);
  });
}

/** The group → measured D map (from points and `fixed.D`), checking consistency within a group. */
function measuredD(points: readonly LawPoint[], fixedD: number | Record<string, number> | undefined): Map<string, number> {
  const out = new Map<string, number>();
  points.forEach((p, i) => {
    if (p.D === undefined) return;
    const g = p.group ?? 'default';
    const prev = out.get(g);
    if (prev !== undefined && Math.abs(prev - p.D) > 1e-9 * Math.abs(prev)) {
      throw new Error(`law fit: point ${i + 1}: group "${g}" has two different D values (${prev} and ${p.D}); give each data size its own group`);
    }
    out.set(g, p.D);
  });
  if (typeof fixedD === 'number') for (const p of points) out.set(p.group ?? 'default', fixedD);
  else if (fixedD) for (const [g, d] of Object.entries(fixedD)) out.set(g, d);
  return out;
}

/** Fits the Performance Law to `points` (one or several data groups). */
export function fitLaw(points: readonly LawPoint[], options: FitOptions = {}): LawFit {
  validatePoints(points);
  const groups = [...new Set(points.map((p) => p.group ?? 'default'))];
  const measured = measuredD(points, options.fixed?.D);
  const notes: string[] = [];
  const bounds = { ...DEFAULT_BOUNDS, ...options.bounds };

  // Decide which parameters are free (module comment), unless the caller said so.
  const distinctMeasured = new Set([...measured.values()]).size;
  let freeShared: Set<ParamName>;
  let freeGroupD: Set<string>;
  if (options.free) {
    freeShared = new Set(options.free.filter((n) => n !== 'D'));
    freeGroupD = new Set(options.free.includes('D') ? groups : []);
    const nConst = groups.length;
    const nDataUnknowns = (freeShared.has('b') ? 1 : 0) + (freeShared.has('w5') ? 1 : 0) + freeGroupD.size;
    if (nDataUnknowns > nConst) notes.push(`b, w5 and D are not all identifiable from ${nConst} data group(s): ${nDataUnknowns} data-term unknowns; their values trade off (w1–w4 are unaffected)`);
  } else {
    freeShared = new Set<ParamName>(['w1', 'w2', 'w3', 'w4', 'b']);
    if (distinctMeasured >= 2) freeShared.add('w5');
    else notes.push(`w5 held at ${options.fixed?.w5 ?? DEFAULT_W5}: fewer than two distinct measured D values, so the data term is absorbed into b`);
    freeGroupD = new Set(groups.filter((g) => !measured.has(g)));
    if (measured.size === 0 && groups.length > 0) {
      freeGroupD.delete(groups[0]);
      measured.set(groups[0], 1);
      if (groups.length > 1) notes.push(`no measured D: group "${groups[0]}" anchored at D = 1, the other groups' D are fitted relative to it`);
    }
  }
  for (const g of groups) if (!freeGroupD.has(g) && !measured.has(g)) measured.set(g, 1);

  // Parameter vector: shared (w1, w2, w3, w4, w5, b) then ln D per group.
  const G = groups.length;
  const nP = SHARED.length + G;
  const groupIndex = new Map(groups.map((g, i) => [g, i]));
  const pointGroup = Int32Array.from(points, (p) => groupIndex.get(p.group ?? 'default')!);
  const isFree = new Uint8Array(nP);
  SHARED.forEach((name, j) => (isFree[j] = freeShared.has(name) ? 1 : 0));
  groups.forEach((g, k) => (isFree[SHARED.length + k] = freeGroupD.has(g) ? 1 : 0));
  const freeIdx: number[] = [];
  for (let j = 0; j < nP; j++) if (isFree[j]) freeIdx.push(j);
  const nConfigs = new Set(points.map((p) => `${p.group ?? 'default'}|${p.layers}|${p.hidden}`)).size;
  if (nConfigs < freeIdx.length) {
    throw new Error(`law fit: ${nConfigs} distinct configuration(s) cannot determine ${freeIdx.length} free parameters; sweep at least ${freeIdx.length} (layers, hidden) points`);
  }

  const base = new Float64Array(nP);
  const fx = options.fixed ?? {};
  base[0] = fx.w1 ?? 0.1;
  base[1] = fx.w2 ?? 0.1;
  base[2] = fx.w3 ?? -0.25;
  base[3] = fx.w4 ?? -0.25;
  base[4] = fx.w5 ?? DEFAULT_W5;
  base[5] = fx.b ?? 0;
  groups.forEach((g, k) => (base[SHARED.length + k] = Math.log(measured.get(g) ?? 1)));

  const lower = new Float64Array(nP);
  const upper = new Float64Array(nP);
  SHARED.forEach((name, j) => ([lower[j], upper[j]] = bounds[name]));
  for (let k = 0; k < G; k++) {
    lower[SHARED.length + k] = Math.log(bounds.D[0]);
    upper[SHARED.length + k] = Math.log(bounds.D[1]);
  }

  const toParams = (full: Float64Array, k = 0): LawParams => ({
    w1: full[0], w2: full[1], w3: full[2], w4: full[3], w5: full[4], b: full[5], D: Math.exp(full[SHARED.length + k]),
  });
  /** The LM problem over the parameters `idx` of the full vector, the others held at `hold`. */
  const makeProblem = (idx: readonly number[], hold: Float64Array) => {
    const full = new Float64Array(nP);
    const expand = (theta: Float64Array): Float64Array => {
      full.set(hold);
      idx.forEach((j, a) => (full[j] = theta[a]));
      return full;
    };
    const byFull = new Float64Array(nP);
    return {
      expand,
      nResiduals: points.length,
      nParams: idx.length,
      lower: idx.map((j) => lower[j]),
      upper: idx.map((j) => upper[j]),
      residuals(theta: Float64Array, out: Float64Array) {
        expand(theta);
        points.forEach((p, i) => (out[i] = p.y - lawValue(toParams(full, pointGroup[i]), p.layers, p.hidden)));
      },
      jacobian(theta: Float64Array, out: Float64Array) {
        expand(theta);
        const q = idx.length;
        points.forEach((p, i) => {
          const k = pointGroup[i];
          // lawGradient order: w1 w2 w3 w4 w5 lnD b → our vector: w1 w2 w3 w4 w5 b lnD_k
          const g = lawGradient(toParams(full, k), p.layers, p.hidden);
          byFull.fill(0);
          byFull.set([g[0], g[1], g[2], g[3], g[4], g[6]]);
          byFull[SHARED.length + k] = g[5];
          for (let a = 0; a < q; a++) out[i * q + a] = byFull[idx[a]];
        });
      },
    };
  };

  // Starts: scan the exponents on a grid with the linear weights solved exactly (variable
  // projection), then polish the best few local minima of that scan with bounded LM over every
  // free parameter (one start per basin, so a deep narrow basin is not crowded out).
  // Plain random starts are not enough: along w1 → ∞, w3 → 0 the cost has a long flat ridge
  // where LM crawls, and most starts on the wrong side of it end in a poor local minimum.
  const exps = (options.startExponents ?? START_EXPONENTS).filter((a) => Math.abs(a) > 1e-6);
  const w3Starts = isFree[2] ? exps : [base[2]];
  const w4Starts = isFree[3] ? exps : [base[3]];
  // The terms depend on one exponent each, so tabulate them once per exponent value; each grid
  // cell then only solves a 3 × 3 linear least-squares problem.
  const n = points.length;
  const tabulate = (values: number[], x: (p: LawPoint) => number) =>
    values.map((a) => Float64Array.from(points, (p) => lawTerm(x(p), a)));
  const fNs = tabulate(w3Starts, (p) => p.layers);
  const fHs = tabulate(w4Starts, (p) => p.hidden);
  const fD = Float64Array.from(points, (_, i) => lawTerm(Math.exp(base[SHARED.length + pointGroup[i]]), base[4]));
  const scratch = { A: new Float64Array(9), v: new Float64Array(3), rest: new Float64Array(n) };
  const n3 = w3Starts.length;
  const n4 = w4Starts.length;
  const sseGrid = new Float64Array(n3 * n4).fill(NaN);
  const probe = Float64Array.from(base);
  w3Starts.forEach((s3, i3) => {
    w4Starts.forEach((s4, i4) => {
      probe.set(base);
      probe[2] = s3;
      probe[3] = s4;
      sseGrid[i3 * n4 + i4] = linearStart(fNs[i3], fHs[i4], fD, points, n, probe, isFree, scratch);
    });
  });
  // One start per basin: the grid's local minima (no finite neighbour lower), best first.
  const cells: { i3: number; i4: number; sse: number }[] = [];
  for (let i3 = 0; i3 < n3; i3++) {
    for (let i4 = 0; i4 < n4; i4++) {
      const v = sseGrid[i3 * n4 + i4];
      if (!Number.isFinite(v)) continue;
      let isMin = true;
      for (let d3 = -1; d3 <= 1 && isMin; d3++) for (let d4 = -1; d4 <= 1; d4++) {
        const j3 = i3 + d3;
        const j4 = i4 + d4;
        if ((d3 || d4) && j3 >= 0 && j3 < n3 && j4 >= 0 && j4 < n4 && sseGrid[j3 * n4 + j4] < v) {
          isMin = false;
          break;
        }
      }
      if (isMin) cells.push({ i3, i4, sse: v });
    }
  }
  cells.sort((a, b) => a.sse - b.sse);
  const scanned = cells.slice(0, POLISHED_STARTS).map(({ i3, i4 }) => {
    const start = Float64Array.from(base);
    start[2] = w3Starts[i3];
    start[3] = w4Starts[i4];
    linearStart(fNs[i3], fHs[i4], fD, points, n, start, isFree, scratch);
    return { start };
  });
  // Polish in two stages: first the parameters that are always well posed (w1–w4, b), then every
  // free one from there. Going straight to all of them is much slower when the data-term
  // unknowns (w5, D) are nearly or exactly redundant with b: LM then spends its iterations
  // fighting an almost singular system instead of fitting the shape.
  const wellPosed = freeIdx.filter((j) => j <= 3 || j === 5);
  let best: { full: Float64Array; sse: number; converged: boolean } | null = null;
  for (const { start } of scanned) {
    let current = Float64Array.from(start, (v, j) => Math.min(upper[j], Math.max(lower[j], v)));
    let sse = 0;
    let converged = true;
    for (const idx of wellPosed.length < freeIdx.length ? [wellPosed, freeIdx] : [freeIdx]) {
      const problem = makeProblem(idx, current);
      if (idx.length === 0) {
        const r = new Float64Array(points.length);
        problem.residuals(new Float64Array(0), r);
        sse = r.reduce((s, v) => s + v * v, 0);
        continue;
      }
      const res = levenbergMarquardt(problem, Float64Array.from(idx, (j) => current[j]), { maxIterations: 2000 });
      current = Float64Array.from(problem.expand(res.theta));
      sse = res.sse;
      converged = res.converged;
    }
    if (!best || sse < best.sse) best = { full: current, sse, converged };
  }
  if (!best) throw new Error('law fit: no start could be evaluated');
  if (!best.converged) notes.push('the best start hit the iteration cap before converging');
  const full = best.full;
  freeIdx.forEach((j) => {
    if (full[j] <= lower[j] + 1e-12 || full[j] >= upper[j] - 1e-12) notes.push(`${j < SHARED.length ? SHARED[j] : `D:${groups[j - SHARED.length]}`} ended on its bound`);
  });

  const mean = points.reduce((s, p) => s + p.y, 0) / points.length;
  const sst = points.reduce((s, p) => s + (p.y - mean) ** 2, 0);
  const params = toParams(full, 0);
  const groupD: Record<string, number> = {};
  groups.forEach((g, k) => (groupD[g] = Math.exp(full[SHARED.length + k])));
  return {
    params,
    groupD,
    free: [...SHARED.filter((n) => freeShared.has(n)), ...groups.filter((g) => freeGroupD.has(g)).map((g) => `D:${g}`)],
    r2: sst > 0 ? 1 - best.sse / sst : NaN,
    rmse: Math.sqrt(best.sse / points.length),
    n: points.length,
    optimum: { layers: termOptimum(params.w1, params.w3), hidden: termOptimum(params.w2, params.w4) },
    notes,
  };
}

/**
 * Given the exponents in `start` (whose terms are tabulated in fN and fH, the data term in fD),
 * sets the free linear parameters among (w1, w2, b) to their exact least-squares values (the
 * other parameters held at `start`) and returns the resulting sum of squares. Returns NaN (and
 * leaves `start` unchanged) when the small system is singular.
 */
function linearStart(
  fN: Float64Array,
  fH: Float64Array,
  fD: Float64Array,
  points: readonly LawPoint[],
  n: number,
  start: Float64Array,
  isFree: Uint8Array,
  scratch: { A: Float64Array; v: Float64Array; rest: Float64Array },
): number {
  const free = [isFree[0] === 1, isFree[1] === 1, isFree[5] === 1]; // w1, w2, b
  const q = free.filter(Boolean).length;
  const { A, v, rest } = scratch;
  A.fill(0);
  v.fill(0);
  const basis = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    let fixedPart = fD[i];
    if (!free[0]) fixedPart += start[0] * fN[i];
    if (!free[1]) fixedPart += start[1] * fH[i];
    if (!free[2]) fixedPart += start[5];
    rest[i] = points[i].y - fixedPart;
    let k = 0;
    if (free[0]) basis[k++] = fN[i];
    if (free[1]) basis[k++] = fH[i];
    if (free[2]) basis[k++] = 1;
    for (let a = 0; a < q; a++) {
      v[a] += basis[a] * rest[i];
      for (let c = 0; c < q; c++) A[a * q + c] += basis[a] * basis[c];
    }
  }
  const x = new Float64Array(3);
  if (q > 0) {
    for (let a = 0; a < q; a++) A[a * q + a] *= 1 + 1e-12;
    const solved = solveDense(A.subarray(0, q * q), v.subarray(0, q), q);
    if (!solved || !solved.every(Number.isFinite)) return NaN;
    x.set(solved);
  }
  const coef = [0, 0, 0];
  let k = 0;
  for (let c = 0; c < 3; c++) if (free[c]) coef[c] = x[k++];
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const r = rest[i] - coef[0] * fN[i] - coef[1] * fH[i] - coef[2];
    sse += r * r;
  }
  if (free[0]) start[0] = coef[0];
  if (free[1]) start[1] = coef[1];
  if (free[2]) start[5] = coef[2];
  return sse;
}

/** The fitted law's prediction at (layers, hidden) for a group (default: the first) or a given D. */
export function predictLaw(fit: LawFit, layers: number, hidden: number, at: { group?: string; D?: number } = {}): number {
  let D = at.D;
  if (D === undefined) {
    const group = at.group ?? Object.keys(fit.groupD)[0];
    D = fit.groupD[group];
    if (D === undefined) throw new Error(`law predict: unknown group "${group}"; fitted groups: ${Object.keys(fit.groupD).join(', ')}`);
  }
  return lawValue(fit.params, layers, hidden, D);
}

/** The best (layers, hidden) among candidate sizes by the fitted law, and its predicted value. */
export function bestSize(
  fit: LawFit,
  layerChoices: readonly number[],
  hiddenChoices: readonly number[],
  at: { group?: string; D?: number } = {},
): { layers: number; hidden: number; y: number } {
  let best = { layers: NaN, hidden: NaN, y: -Infinity };
  for (const N of layerChoices) for (const h of hiddenChoices) {
    const y = predictLaw(fit, N, h, at);
    if (y > best.y) best = { layers: N, hidden: h, y };
  }
  return best;
}

/** One held-out configuration in leave-one-configuration-out validation. */
export interface LocoRow {
  group: string;
  layers: number;
  hidden: number;
  /** Mean observed y over the configuration's points (several seeds average). */
  observed: number;
  predicted: number;
  /** |predicted − observed| / |observed|, in %. */
  apePct: number;
}

/** Leave-one-configuration-out report. */
export interface LocoReport {
  rows: LocoRow[];
  medianApePct: number;
  meanApePct: number;
  maxApePct: number;
  /** Configurations that could not be predicted (e.g. their group had no other points). */
  skipped: string[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Leave-one-configuration-out validation: for each distinct (group, layers, hidden), fit on every
 * other point with the same options, predict the held-out configuration and record the absolute
 * percentage error against its mean observed value. `onProgress` is called after each fit.
 */
export function leaveOneConfigOut(points: readonly LawPoint[], options: FitOptions = {}, onProgress?: () => void): LocoReport {
  validatePoints(points);
  const key = (p: LawPoint) => `${p.group ?? 'default'}|${p.layers}|${p.hidden}`;
  const configs = [...new Set(points.map(key))];
  const rows: LocoRow[] = [];
  const skipped: string[] = [];
  for (const c of configs) {
    const held = points.filter((p) => key(p) === c);
    const rest = points.filter((p) => key(p) !== c);
    const group = held[0].group ?? 'default';
    if (!rest.some((p) => (p.group ?? 'default') === group) && held[0].D === undefined) {
      skipped.push(c);
      onProgress?.();
      continue;
    }
    let fit: LawFit;
    try {
      fit = fitLaw(rest, options);
    } catch (error) {
      skipped.push(`${c} (${(error as Error).message})`);
      onProgress?.();
      continue;
    }
    const observed = held.reduce((s, p) => s + p.y, 0) / held.length;
    const predicted = predictLaw(fit, held[0].layers, held[0].hidden, held[0].D !== undefined ? { D: held[0].D } : { group });
    rows.push({ group, layers: held[0].layers, hidden: held[0].hidden, observed, predicted, apePct: (100 * Math.abs(predicted - observed)) / Math.abs(observed) });
    onProgress?.();
  }
  const apes = rows.map((r) => r.apePct);
  return {
    rows,
    medianApePct: median(apes),
    meanApePct: apes.length ? apes.reduce((s, v) => s + v, 0) / apes.length : NaN,
    maxApePct: apes.length ? Math.max(...apes) : NaN,
    skipped,
  };
}
