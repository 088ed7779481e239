/**
 * The SPRec-on-SASRec summary: means, sample standard deviations and paired t-tests against round
 * 0 over seeds, worked out by hand (two seeds: t has 1 degree of freedom, p = 1 − 2·atan|t|/π).
 */
import { describe, expect, it } from 'vitest';
import { summariseRounds } from './sprec-sasrec-experiment.ts';
import type { SprecSasrecRound } from './sprec-sasrec.ts';

const round = (r: number, ndcg: number, div: number): SprecSasrecRound => ({
  round: r, hr: 2 * ndcg, ndcg, div_ratio: div, or_ratio: 0.1, mgu: 0.01, dgu: 0.05, arp: 100, coverage: 0.3, gini: 0.8,
  dpo_loss: r === 0 ? NaN : 0.6, same_pairs: r === 0 ? NaN : 0.05, sft_loss: 5,
});

describe('summariseRounds', () => {
  it('means, std and paired t-tests vs round 0 by hand', () => {
    const s = summariseRounds([
      [round(0, 0.1, 0.05), round(1, 0.12, 0.06)],
      [round(0, 0.2, 0.05), round(1, 0.23, 0.08)],
    ]);
    expect(s.map((x) => x.round)).toEqual([0, 1]);
    expect(s[0].mean.ndcg).toBeCloseTo(0.15, 12);
    expect(s[0].std.ndcg).toBeCloseTo(Math.SQRT1_2 * 0.1, 12); // |0.1 − 0.2| / √2
    expect(s[0].vs_round0).toBeUndefined();
    // differences 0.02, 0.03: mean 0.025, sd 0.01/√2, t = 0.025 / (sd/√2) = 5
    expect(s[1].vs_round0!.ndcg.mean_diff).toBeCloseTo(0.025, 12);
    expect(s[1].vs_round0!.ndcg.p).toBeCloseTo(1 - (2 * Math.atan(5)) / Math.PI, 6);
    // differences 0.01, 0.03: mean 0.02, sd 0.02/√2, t = 0.02 / 0.01 = 2
    expect(s[1].vs_round0!.div_ratio.p).toBeCloseTo(1 - (2 * Math.atan(2)) / Math.PI, 6);
    expect(s[1].vs_round0!.dpo_loss).toBeUndefined(); // round 0 has no DPO
    expect(s[1].mean.dpo_loss).toBeCloseTo(0.6, 12);
  });
});
