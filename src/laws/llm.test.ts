import { describe, expect, it } from 'vitest';
import { llmPerformanceLaw } from './llm.ts';

describe('LLM Performance Law', () => {
  // The three published test vectors (Llama 3 8B, Llama 3 70B, Llama 2 7B).
  it.each([
    [32, 4096, 14336, 15, 8.03, 65.45],
    [80, 8192, 28672, 15, 70.6, 81.09],
    [32, 4096, 11008, 2, 6.7, 58.03],
  ])('N=%d h=%d d=%d T=%d S=%d → %d', (layers, hidden, ffn, tokensT, paramsB, expected) => {
    const p = llmPerformanceLaw({ layers, hidden, ffn, tokensT, paramsB });
    expect(Number(p.mmlu.toFixed(2))).toBe(expected);
  });

  it('computes θ and T′ as defined', () => {
    const p = llmPerformanceLaw({ layers: 32, hidden: 4096, ffn: 14336, tokensT: 15, paramsB: 8.03 });
    // By hand: (10/14336 + 20/4096)·32 = 0.178571…; θ = exp(−0.031888) = 0.968615.
    expect(p.theta).toBeCloseTo(0.968615, 5);
    expect(p.effectiveTokensT).toBe(8.03);
  });

  it('γ > 1 (precision loss) lowers the score', () => {
    const base = llmPerformanceLaw({ layers: 32, hidden: 4096, ffn: 14336, tokensT: 15, paramsB: 8.03 });
    const lossy = llmPerformanceLaw({ layers: 32, hidden: 4096, ffn: 14336, tokensT: 15, paramsB: 8.03, gamma: 2 });
    expect(lossy.mmlu).toBeLessThan(base.mmlu);
  });

  it('floors at 25 and saturates below 100', () => {
    const tiny = llmPerformanceLaw({ layers: 2, hidden: 64, ffn: 256, tokensT: 0.001, paramsB: 0.001 });
    expect(tiny.mmluRaw).toBeLessThan(25);
    expect(tiny.mmlu).toBe(25);
    // A huge model: raw value above 90 maps to 90 + 10·tanh(0.1·raw − 9) < 100.
    const huge = llmPerformanceLaw({ layers: 200, hidden: 65536, ffn: 262144, tokensT: 1000, paramsB: 5000 });
    expect(huge.mmluRaw).toBeGreaterThan(90);
    expect(huge.mmlu).toBeCloseTo(90 + 10 * Math.tanh(0.1 * huge.mmluRaw - 9), 12);
    expect(huge.mmlu).toBeLessThan(100);
  });

  it('rejects non-positive inputs with the field name', () => {
    expect(() => llmPerformanceLaw({ layers: 0, hidden: 1, ffn: 1, tokensT: 1, paramsB: 1 })).toThrow(/layers/);
    expect(() => llmPerformanceLaw({ layers: 1, hidden: 1, ffn: 1, tokensT: Number.NaN, paramsB: 1 })).toThrow(/tokens/);
  });
});
