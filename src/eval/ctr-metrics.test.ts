import { describe, expect, it } from 'vitest';
import { auc, gauc, groupAuc, logLoss, CTR_METRICS } from './ctr-metrics.ts';

describe('CTR metrics', () => {
  it('AUC counts ordered pairs by hand, ties as ½', () => {
    // positives scores 0.9, 0.4; negatives 0.5, 0.1, 0.4
    // pairs (pos, neg): (0.9,0.5)=1 (0.9,0.1)=1 (0.9,0.4)=1 (0.4,0.5)=0 (0.4,0.1)=1 (0.4,0.4)=½ → 4.5 / 6
    const y = [1, 0, 0, 1, 0];
    const p = [0.9, 0.5, 0.1, 0.4, 0.4];
    expect(auc(y, p)).toBeCloseTo(4.5 / 6, 12);
    expect(auc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(auc([0, 1], [0.2, 0.3])).toBe(1);
    expect(auc([1, 0], [0.2, 0.3])).toBe(0);
  });

  it('GAUC weights each user AUC by impressions, skipping one-class users', () => {
    // user 7: 4 impressions, AUC 0.75 (pos 0.8, 0.3; neg 0.5, 0.1 → pairs 1,1,0,1 → 3/4)
    // user 9: 2 impressions, AUC 0 (pos 0.2 < neg 0.6)
    // user 4: 3 impressions all positive → undefined, left out
    const y = [1, 1, 0, 0, 1, 0, 1, 1, 1];
    const p = [0.8, 0.3, 0.5, 0.1, 0.2, 0.6, 0.5, 0.5, 0.5];
    const g = [7, 7, 7, 7, 9, 9, 4, 4, 4];
    expect(gauc(y, p, g)).toBeCloseTo((4 * 0.75 + 2 * 0) / 6, 12);
    const per = groupAuc(y, p, g);
    expect([...per.groups]).toEqual([4, 7, 9]);
    expect([...per.count]).toEqual([3, 4, 2]);
    expect(per.auc[0]).toBeNaN();
  });

  it('LogLoss is the mean binary cross-entropy, clipped', () => {
    const expected = -(Math.log(0.8) + Math.log(1 - 0.3) + Math.log(0.5)) / 3;
    expect(logLoss([1, 0, 1], [0.8, 0.3, 0.5])).toBeCloseTo(expected, 12);
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-7), 6);
    expect(CTR_METRICS.logloss.higherIsBetter).toBe(false);
  });
});
