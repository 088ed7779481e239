import { describe, expect, it } from 'vitest';
import { concatInteractions, fromSequences } from './interactions.ts';
import { userItems } from './types.ts';

describe('interactions', () => {
  it('builds CSR from sequences and concatenates per user', () => {
    const a = fromSequences([[0, 1], [], [2]], 4);
    const b = fromSequences([[3], [1], []], 4);
    const c = concatInteractions(a, b);
    expect(Array.from(c.offsets)).toEqual([0, 3, 4, 5]);
    expect(Array.from(userItems(c, 0))).toEqual([0, 1, 3]);
    expect(Array.from(userItems(c, 1))).toEqual([1]);
    expect(Array.from(userItems(c, 2))).toEqual([2]);
    expect(() => fromSequences([[5]], 4)).toThrow(/outside 0..3/);
  });
});
