/**
 * Usage accounting: every call through an LLMClient is counted here — tokens in and out, cost,
 * latency, cache hits, retries and repairs — overall and per prompt template, so a report can say
 * what an experiment cost and where the time went.
 */
import type { TokenUsage } from './types.ts';

/** Price of a model in US dollars per million tokens. */
export interface Pricing {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** Totals over a set of calls. */
export interface UsageTotals {
  /** Requests answered (from the provider or the cache). */
  calls: number;
  /** Of those, answered from the cache (cost nothing, latency not counted). */
  cachedCalls: number;
  promptTokens: number;
  completionTokens: number;
  /** Calls whose token counts were estimated, not reported by the provider. */
  estimatedCalls: number;
  costUsd: number;
  /** Retries after a retryable HTTP failure. */
  retries: number;
  /** Structured-output repair requests sent. */
  repairs: number;
  /** Replies still invalid after repair. */
  failures: number;
  /** Latency of provider (non-cached) calls, ms. */
  latencyMs: { mean: number; p50: number; p95: number; max: number };
}

/** Mutable counters, one per bucket. */
interface Bucket {
  calls: number;
  cachedCalls: number;
  promptTokens: number;
  completionTokens: number;
  estimatedCalls: number;
  costUsd: number;
  retries: number;
  repairs: number;
  failures: number;
  latencies: number[];
}

function emptyBucket(): Bucket {
  return { calls: 0, cachedCalls: 0, promptTokens: 0, completionTokens: 0, estimatedCalls: 0, costUsd: 0, retries: 0, repairs: 0, failures: 0, latencies: [] };
}

/** Quantile by linear interpolation between order statistics (type 7, the R/NumPy default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function totals(b: Bucket): UsageTotals {
  const s = [...b.latencies].sort((x, y) => x - y);
  const mean = s.length ? s.reduce((a, x) => a + x, 0) / s.length : 0;
  return {
    calls: b.calls,
    cachedCalls: b.cachedCalls,
    promptTokens: b.promptTokens,
    completionTokens: b.completionTokens,
    estimatedCalls: b.estimatedCalls,
    costUsd: b.costUsd,
    retries: b.retries,
    repairs: b.repairs,
    failures: b.failures,
    latencyMs: { mean, p50: quantile(s, 0.5), p95: quantile(s, 0.95), max: s.length ? s[s.length - 1] : 0 },
  };
}

/** Counts calls overall and per template tag. */
export class UsageLedger {
  private readonly all = emptyBucket();
  private readonly byTag = new Map<string, Bucket>();

  constructor(readonly pricing: Pricing = { inputPerMTok: 0, outputPerMTok: 0 }) {}

  private buckets(tag: string | undefined): Bucket[] {
    const key = tag ?? '(untagged)';
    let b = this.byTag.get(key);
    if (!b) this.byTag.set(key, (b = emptyBucket()));
    return [this.all, b];
  }

  /** Records one answered call. Cached calls count their tokens (what was consumed once) but no cost or latency. */
  recordCall(tag: string | undefined, usage: TokenUsage, latencyMs: number, cached: boolean): void {
    const cost = cached ? 0 : (usage.promptTokens * this.pricing.inputPerMTok + usage.completionTokens * this.pricing.outputPerMTok) / 1e6;
    for (const b of this.buckets(tag)) {
      b.calls++;
      b.promptTokens += usage.promptTokens;
      b.completionTokens += usage.completionTokens;
      if (usage.estimated) b.estimatedCalls++;
      if (cached) b.cachedCalls++;
      else {
        b.costUsd += cost;
        b.latencies.push(latencyMs);
      }
    }
  }

  /** Records a retry, a repair request or a final failure. */
  recordEvent(tag: string | undefined, kind: 'retries' | 'repairs' | 'failures'): void {
    for (const b of this.buckets(tag)) b[kind]++;
  }

  /** Totals over every call. */
  total(): UsageTotals {
    return totals(this.all);
  }

  /** Totals per template tag. */
  perTag(): Record<string, UsageTotals> {
    const out: Record<string, UsageTotals> = {};
    for (const [tag, b] of [...this.byTag.entries()].sort(([a], [c]) => a.localeCompare(c))) out[tag] = totals(b);
    return out;
  }
}

/** Rough token count when a provider reports none: about four characters per token for English. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
