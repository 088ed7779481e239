import { describe, expect, it } from 'vitest';
import { fromSequences } from '../data/interactions.ts';
import { sampleEvalUsers } from './data.ts';

describe('sampleEvalUsers (maxEvalUsers)', () => {
  // 10 users; users 2, 5 and 7 have no target
  const seqs = Array.from({ length: 10 }, (_, u) => ([2, 5, 7].includes(u) ? [] : [u % 4]));
  const targets = fromSequences(seqs, 4);
  const withTarget = [0, 1, 3, 4, 6, 8, 9];

  it('returns every user with a target when there is no cap or the cap is not below their number', () => {
    expect([...sampleEvalUsers(targets, undefined, 0)]).toEqual(withTarget);
    expect([...sampleEvalUsers(targets, 7, 0)]).toEqual(withTarget);
    expect([...sampleEvalUsers(targets, 100, 3)]).toEqual(withTarget);
  });

  it('samples exactly max distinct users with targets, sorted, the same for the same seed', () => {
    for (const seed of [0, 1, 2, 3]) {
      const s = [...sampleEvalUsers(targets, 4, seed)];
      expect(s).toHaveLength(4);
      expect(new Set(s).size).toBe(4);
      expect(s.every((u) => withTarget.includes(u))).toBe(true);
      expect(s).toEqual([...s].sort((a, b) => a - b));
      expect([...sampleEvalUsers(targets, 4, seed)]).toEqual(s);
    }
    // the seed matters: over 20 seeds not every sample is the same one
    const distinct = new Set(Array.from({ length: 20 }, (_, seed) => sampleEvalUsers(targets, 3, seed).join(',')));
    expect(distinct.size).toBeGreaterThan(1);
  });
});
