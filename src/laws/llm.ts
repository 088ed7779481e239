/**
 * The LLM Performance Law (Wu & Tang, "Performance Law of Large Language Models", arXiv 2408.09895)
 * as a calculator: it predicts a dense decoder-only LLM's MMLU score (in %) from its shape and
 * its training budget, before anyone trains it.
 *
 *   MMLU = 13.95018192·ln(θN) + 0.23072027·ln(θh) − 0.48523402·ln(θd) + 5.39801689·ln(θT′) + 9.195410648934768
 *   θ    = exp(−((10/d + 20/h)·γ·N)²)          (an "instability" discount: deep, thin models train worse)
 *   T′   = min(T, S)                          (T in trillions of tokens, S in billions of parameters:
 *                                             tokens beyond about 1000× the parameter count stop helping)
 *
 * with N layers, h hidden size, d FFN intermediate size and γ a precision-loss factor (1 for the
 * bf16 training the law was fitted on). The raw value is then clipped to the range a 4-choice test
 * can show: below 25 (chance) it is 25, and above 90 it saturates smoothly as
 * 90 + 10·tanh(0.1·MMLU − 9), so it never passes 100.
 *
 * Test vectors from the paper's Table 1 (Llama 3 8B, Llama 3 70B, Llama 2 7B): 65.45, 81.09, 58.03.
 */

/** The shape and budget of one LLM. */
export interface LlmShape {
  /** N: number of transformer layers. */
  layers: number;
  /** h: hidden (model) size. */
  hidden: number;
  /** d: FFN intermediate size. */
  ffn: number;
  /** T: training tokens, in trillions. */
  tokensT: number;
  /** S: model size, in billions of parameters. */
  paramsB: number;
  /** γ: precision-loss factor (default 1). */
  gamma?: number;
}

/** What the calculator reports. */
export interface LlmPrediction {
  /** Predicted MMLU in %, after the floor and the soft ceiling. */
  mmlu: number;
  /** The law's value before the floor at 25 and the saturation above 90. */
  mmluRaw: number;
  /** θ, the instability discount in (0, 1]. */
  theta: number;
  /** T′ = min(T, S): the tokens (trillions) that still count. */
  effectiveTokensT: number;
}

const C_LAYERS = 13.95018192;
const C_HIDDEN = 0.23072027;
const C_FFN = -0.48523402;
const C_TOKENS = 5.39801689;
const C_BIAS = 9.195410648934768;

function requirePositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`llm law: ${name} must be a positive finite number, got ${value}`);
}

/** Predicts MMLU (%) of a dense LLM with the LLM Performance Law; throws on non-positive inputs. */
export function llmPerformanceLaw(shape: LlmShape): LlmPrediction {
  const { layers: N, hidden: h, ffn: d, tokensT: T, paramsB: S } = shape;
  const gamma = shape.gamma ?? 1;
  requirePositive('layers', N);
  requirePositive('hidden', h);
  requirePositive('ffn', d);
  requirePositive('tokens', T);
  requirePositive('params', S);
  requirePositive('gamma', gamma);
  const theta = Math.exp(-(((10 / d + 20 / h) * gamma * N) ** 2));
  const effectiveTokensT = Math.min(T, S);
  // ln(θx) = ln θ + ln x; written this way so a θ that underflows to 0 for absurd shapes still
  // gives a finite (very low) score instead of −∞ − (−∞) = NaN.
  const lnTheta = -(((10 / d + 20 / h) * gamma * N) ** 2);
  const mmluRaw =
    C_LAYERS * (lnTheta + Math.log(N)) +
    C_HIDDEN * (lnTheta + Math.log(h)) +
    C_FFN * (lnTheta + Math.log(d)) +
    C_TOKENS * (lnTheta + Math.log(effectiveTokensT)) +
    C_BIAS;
  let mmlu = Math.max(25, mmluRaw);
  if (mmlu > 90) mmlu = 90 + 10 * Math.tanh(0.1 * mmlu - 9);
  return { mmlu, mmluRaw, theta, effectiveTokensT };
}
