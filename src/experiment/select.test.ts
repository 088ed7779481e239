import { describe, expect, it } from 'vitest';
import { BestOnValidation } from './select.ts';

describe('BestOnValidation', () => {
  it('keeps the strictly best epoch and its snapshot, stops after `patience` validations without improvement', () => {
    let state = 0;
    const sel = new BestOnValidation(2, () => state);
    const feed = (epoch: number, value: number): boolean => {
      state = epoch * 10;
      return sel.update(epoch, value);
    };
    expect(feed(1, 0.1)).toBe(false);
    expect(feed(2, 0.3)).toBe(false);
    expect(feed(3, 0.3)).toBe(false); // a tie is not better: the earlier epoch stays
    expect([sel.best, sel.bestEpoch, sel.state]).toEqual([0.3, 2, 20]);
    expect(feed(4, 0.2)).toBe(true); // second validation without improvement
    expect(feed(5, NaN)).toBe(true);
    expect(sel.bestEpoch).toBe(2);
  });

  it('never stops without patience, ignores NaN, and continues a resumed best', () => {
    const sel = new BestOnValidation().resume(0.5, 7);
    for (let e = 8; e < 100; e++) expect(sel.update(e, NaN)).toBe(false);
    expect([sel.best, sel.bestEpoch, sel.state]).toEqual([0.5, 7, undefined]);
    sel.update(100, 0.51);
    expect(sel.bestEpoch).toBe(100);
  });
});
