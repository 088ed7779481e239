/** Test helpers for the CF models: seeded random interaction data and a naive dense solver. */
import { fromSequences } from '../../data/interactions.ts';
import type { Interactions } from '../../data/types.ts';
import { Rng } from '../../nn/rng.ts';

/** Random user histories: each user gets `minLen..maxLen` events over `nItems` items, skewed to low ids so co-occurrences are common. */
export function randomInteractions(seed: number, nUsers: number, nItems: number, minLen = 2, maxLen = 8): Interactions {
  const rng = new Rng(seed);
  const seqs: number[][] = [];
  for (let u = 0; u < nUsers; u++) {
    const len = minLen + rng.int(maxLen - minLen + 1);
    const s: number[] = [];
    for (let t = 0; t < len; t++) s.push(Math.floor(nItems * rng.next() ** 1.5));
    seqs.push(s);
  }
  return fromSequences(seqs, nItems);
}

/** Solves A x = b by Gaussian elimination with partial pivoting (dense, plain arrays): the obviously-correct reference. */
export function naiveSolve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let best = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[best][c])) best = r;
    [m[c], m[best]] = [m[best], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}
