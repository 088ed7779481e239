/**
 * The Performance Law of sequential recommenders (Shen et al., "Predictive Models in Sequential
 * Recommendations: Bridging Performance Laws with Data Quality Insights", arXiv 2412.00430).
 *
 * A transformer recommender with N layers and hidden size h, trained on data of quality D, reaches
 *
 *   y(N, h, D) = w1·f(N; w3) + w2·f(h; w4) + f(D; w5) + b,      f(x; a) = −1/(2·x^a) − a·ln x
 *
 * where y is HR@10 or NDCG@10. Each term is the paper's "rise then fall" shape: for an exponent
 * a < 0, f'(x) = (|a|/x)·(1 − x^|a|/2) is positive below x* = 2^(−1/a) and negative above, so a
 * term with a positive weight peaks at x* — the model is too small before it and over-fits or
 * trains worse after it. For a > 0 the term only falls on x ≥ 1.
 *
 * D is the paper's data proxy D′ = #tokens · ApEn (interactions times Approximate Entropy, see
 * src/data/apen.ts and ./quality.ts). Its unit matters (f is not scale-free), so reclab uses
 * millions of interactions × ApEn throughout; see docs/laws.md.
 */

/** The seven numbers of the law. */
export interface LawParams {
  /** Weight of the depth term. */
  w1: number;
  /** Weight of the width term. */
  w2: number;
  /** Exponent of the depth term (optimum at 2^(−1/w3) when w3 < 0). */
  w3: number;
  /** Exponent of the width term. */
  w4: number;
  /** Exponent of the data term. */
  w5: number;
  /** Data quality (millions of interactions × ApEn). */
  D: number;
  /** Offset. */
  b: number;
}

/** Names of the seven parameters, in the order used by vectors and reports. */
export const PARAM_NAMES = ['w1', 'w2', 'w3', 'w4', 'w5', 'D', 'b'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

/** One term of the law: f(x; a) = −1/(2·x^a) − a·ln x, for x > 0. */
export function lawTerm(x: number, a: number): number {
  return -0.5 * x ** -a - a * Math.log(x);
}

/** ∂f/∂a = ln x · (x^(−a)/2 − 1). */
export function lawTermDa(x: number, a: number): number {
  return Math.log(x) * (0.5 * x ** -a - 1);
}

/** x·∂f/∂x = a·(x^(−a)/2 − 1): the derivative with respect to ln x. */
export function lawTermDlnx(x: number, a: number): number {
  return a * (0.5 * x ** -a - 1);
}

/** The law's prediction y(N, h) for the parameters' own D, or for data quality `D` when given. */
export function lawValue(p: LawParams, layers: number, hidden: number, D: number = p.D): number {
  return p.w1 * lawTerm(layers, p.w3) + p.w2 * lawTerm(hidden, p.w4) + lawTerm(D, p.w5) + p.b;
}

/**
 * Partial derivatives of y(N, h) with respect to (w1, w2, w3, w4, w5, ln D, b), in that order.
 * D enters through ln D so the fitter can move it across orders of magnitude with even steps.
 */
export function lawGradient(p: LawParams, layers: number, hidden: number, D: number = p.D): number[] {
  return [
    lawTerm(layers, p.w3),
    lawTerm(hidden, p.w4),
    p.w1 * lawTermDa(layers, p.w3),
    p.w2 * lawTermDa(hidden, p.w4),
    lawTermDa(D, p.w5),
    lawTermDlnx(D, p.w5),
    1,
  ];
}

/** Where one term of the law has its stationary point, and what kind it is. */
export interface TermOptimum {
  /** `max`: the weighted term peaks at x (best size); `min`: it dips there (best at a grid edge);
   *  `decreasing` / `increasing`: monotone on x ≥ 1 (best at the smallest / largest size). */
  kind: 'max' | 'min' | 'decreasing' | 'increasing';
  /** The stationary point 2^(−1/a) for a < 0; NaN for monotone terms. */
  x: number;
}

/**
 * The optimum of a weighted term w·f(x; a) on x ≥ 1. For a < 0 the stationary point is
 * x* = 2^(−1/a) (solve f'(x) = 0: x^(−a) = 2); with w > 0 it is a maximum. For a ≥ 0, f is
 * non-increasing on x ≥ 1, so w·f is monotone there.
 */
export function termOptimum(weight: number, exponent: number): TermOptimum {
  if (exponent < 0) return { kind: weight >= 0 ? 'max' : 'min', x: 2 ** (-1 / exponent) };
  return { kind: weight >= 0 ? 'decreasing' : 'increasing', x: NaN };
}
