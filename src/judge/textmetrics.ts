/**
 * Classic reference-based text metrics, used by RevisEval against the response-adapted
 * reference: ROUGE-L (F1 of the longest common subsequence of word tokens) and sentence BLEU-4
 * (geometric mean of modified n-gram precisions, n = 1..4, with add-one smoothing for n > 1 —
 * Lin & Och 2004 — so one missing 4-gram does not zero a short sentence, times the brevity
 * penalty min(1, exp(1 − r/c))).
 *
 * Tokens: lowercase runs of letters and digits (punctuation dropped).
 */
import { lcsLength, wordTokens } from '../util/text.ts';

export { wordTokens };

/** ROUGE-L F1 of `candidate` against `reference`: 2PR/(P+R) with P = LCS/|cand|, R = LCS/|ref|; 0 when either is empty. */
export function rougeL(candidate: string, reference: string): number {
  const c = wordTokens(candidate);
  const r = wordTokens(reference);
  if (!c.length || !r.length) return 0;
  const l = lcsLength(c, r);
  if (l === 0) return 0;
  const p = l / c.length;
  const rec = l / r.length;
  return (2 * p * rec) / (p + rec);
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const g = tokens.slice(i, i + n).join('\u0000');
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

/** Sentence BLEU-4 of `candidate` against one `reference` (see the module comment); 0 for an empty candidate. */
export function bleu(candidate: string, reference: string, maxN = 4): number {
  const c = wordTokens(candidate);
  const r = wordTokens(reference);
  if (!c.length || !r.length) return 0;
  let logSum = 0;
  for (let n = 1; n <= maxN; n++) {
    const cc = ngramCounts(c, n);
    const rc = ngramCounts(r, n);
    let match = 0;
    for (const [g, k] of cc) match += Math.min(k, rc.get(g) ?? 0);
    const total = Math.max(0, c.length - n + 1);
    // Unigrams unsmoothed: no word in common means no overlap at all.
    if (n === 1 && match === 0) return 0;
    const p = n === 1 ? match / total : (match + 1) / (total + 1);
    logSum += Math.log(p);
  }
  const bp = c.length >= r.length ? 1 : Math.exp(1 - r.length / c.length);
  return bp * Math.exp(logSum / maxN);
}
