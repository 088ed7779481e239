import { beforeEach, describe, expect, it } from 'vitest';
import { LLMClient, ScriptedProvider, type ChatRequest } from '../llm/index.ts';
import { crowdEval, pairwise, revisEval, stripVerdict } from './methods.ts';
import { judgePair } from './pair.ts';
import { bleu, rougeL, wordTokens } from './textmetrics.ts';

const client = (name: string, script: (r: ChatRequest) => unknown) => new LLMClient(new ScriptedProvider(name, (r) => script(r) as Record<string, unknown>));
const meta = (r: ChatRequest) => r.meta as Record<string, unknown>;

/** A judge that always prefers the longer response (a known LLM-judge bias). */
const longer = client('longer', (r) => {
  const m = meta(r);
  const [a, b] = [String(m.first).length, String(m.second).length];
  return { verdict: a === b ? 'tie' : a > b ? 'A' : 'B', explanation: 'the longer one is more detailed' };
});
const alwaysA = client('always-a', () => ({ verdict: 'A', explanation: 'A' }));
const tieJudge = (r: ChatRequest) => {
  const m = meta(r);
  if (m.method !== 'cce') return { verdict: 'tie', explanation: 'both fine' };
  const [ca, cb] = [(m.critiquesA as string[]).length, (m.critiquesB as string[]).length];
  return { verdict: ca === cb ? 'tie' : ca > cb ? 'B' : 'A', explanation: 'weighed the observations' };
};

const instruction = 'What is 2 + 2? Answer briefly.';
const short = 'It is 4.';
const long = 'The answer is 5, because when you add two and two carefully, counting each one, you get five in total.';

describe('text metrics', () => {
  it('ROUGE-L F1 and BLEU by hand', () => {
    expect(wordTokens('It is 4.')).toEqual(['it', 'is', '4']);
    // cand "the cat sat" vs ref "the cat sat down": LCS 3, P 1, R 3/4 → F1 = 2·0.75/1.75 = 6/7.
    expect(rougeL('the cat sat', 'the cat sat down')).toBeCloseTo(6 / 7, 12);
    expect(rougeL('a b', 'c d')).toBe(0);
    // Identical 4-token sentences: every precision 1, no brevity penalty.
    expect(bleu('a b c d', 'a b c d')).toBeCloseTo(1, 12);
    // cand "a b c" vs ref "a b c d": p1 = 3/3, p2 = (2+1)/(2+1), p3 = (1+1)/(1+1), p4 = (0+1)/(0+1); BP = exp(1 − 4/3).
    expect(bleu('a b c', 'a b c d')).toBeCloseTo(Math.exp(1 - 4 / 3), 12);
    // cand "a x" vs ref "a b": p1 = 1/2, p2 = (0+1)/(1+1), p3 = p4 = 1/1 (no n-grams: (0+1)/(0+1)); BP 1 → (1/4)^(1/4).
    expect(bleu('a x', 'a b')).toBeCloseTo(0.25 ** 0.25, 12);
  });

  it('outcome removal strips verdict sentences and keeps observations', () => {
    expect(stripVerdict('The candidate says 5, which is wrong. It also rambles. Therefore the other response is better. [[B]]')).toBe('The candidate says 5, which is wrong. It also rambles.');
  });
});

describe('RevisEval', () => {
  // The reviser turns any response into the short correct answer (a hand-built reference).
  let reviser: LLMClient;
  beforeEach(() => {
    reviser = client('reviser', () => ({ revised: '4.' }));
  });

  it('a judge that prefers the longer answer is caught by the response-adapted reference', async () => {
    const plain = await judgePair(longer, instruction, short, long, pairwise);
    expect(plain.outcome).toBe('b'); // the long wrong answer wins a plain pairwise comparison
    const r = await judgePair(longer, instruction, short, long, revisEval({ reviser, scorer: 'rouge-l' }));
    // Reference "4.": ROUGE-L of "It is 4." = 2·(1/3)·1/(4/3) = 1/2; the long answer has no "4" → 0.
    expect(r.forward.record.rougeL).toEqual([0.5, 0]);
    expect(r.backward.record.rougeL).toEqual([0, 0.5]);
    expect(r.outcome).toBe('a');
    // The LLM judge itself still says "longer" in both orders: the record shows it disagreeing with the reference.
    expect(r.judgeOutcome).toBe('b');
    expect(r.forward.record.metricVerdict).toBe('A');
    expect(r.forward.reply!.verdict).toBe('B');
    // The reviser saw the second response and the first as context, in each order.
    expect((reviser.provider as ScriptedProvider).requests.map((q) => [meta(q).response, meta(q).other])).toEqual([
      [long, short],
      [short, long],
    ]);
  });

  it('keeps the order-swap rule: an always-A judge gives a tie under RevisEval (LLM scorer)', async () => {
    const r = await judgePair(alwaysA, instruction, short, long, revisEval({ reviser }));
    expect(r.forward.verdict).toBe('A');
    expect(r.backward.verdict).toBe('A');
    expect(r.outcome).toBe('tie');
    expect(r.forward.record.reference).toBe('4.');
  });
});

describe('CCE', () => {
  // Two crowd models; the judge's comparisons criticise whichever candidate is `criticised`.
  const crowd = [client('crowd-1', () => ({ response: 'Four.' })), client('crowd-2', () => ({ response: '2 + 2 = 4' }))];
  const compareAndJudge = (criticised: string) =>
    client('cce-judge', (r) => {
      const m = meta(r);
      if (m.kind === 'cce-compare') {
        const hit = m.candidate === criticised;
        return { judgment: hit ? `The candidate never shows the sum (crowd ${m.crowdIndex}). Therefore the other response is better.` : 'Both give the sum.', criticises_candidate: hit, verdict: hit ? 'other' : 'tie' };
      }
      return tieJudge(r);
    });

  it('crowd judgments that criticise A flip a tie to B; kept comparisons are counted and stripped of verdicts', async () => {
    const judge = compareAndJudge(short);
    const plain = await judgePair(judge, instruction, short, long, pairwise);
    expect(plain.outcome).toBe('tie');
    const r = await judgePair(judge, instruction, short, long, crowdEval({ crowd, judge }));
    expect(r.outcome).toBe('b');
    // 2 crowd responses × 2 candidates = 4 comparisons per order; the 2 about `short` are kept.
    expect(r.forward.record).toEqual({ crowd: 2, comparisons: 4, kept: 2, keptA: 2, keptB: 0 });
    expect(r.backward.record).toEqual({ crowd: 2, comparisons: 4, kept: 2, keptA: 0, keptB: 2 });
    // Requests 0 and 1 are the plain pairwise run's two orders; 2 is CCE's forward order.
    const finalPrompt = (judge.provider as ScriptedProvider).requests.filter((q) => meta(q).kind === 'pair')[2].messages.at(-1)!.content;
    expect(finalPrompt).toContain('- The candidate never shows the sum (crowd 0).');
    expect(finalPrompt).not.toContain('Therefore');
    // Crowd answers and comparisons are asked once per pair, reused by the second order.
    expect((crowd[0].provider as ScriptedProvider).requests).toHaveLength(1);
    expect((judge.provider as ScriptedProvider).requests.filter((q) => meta(q).kind === 'cce-compare')).toHaveLength(4);
  });

  it('keeps the order-swap rule: an always-A judge gives a tie under CCE', async () => {
    const judge = compareAndJudge(short);
    const r = await judgePair(alwaysA, instruction, short, long, crowdEval({ crowd, judge }));
    expect(r.outcome).toBe('tie');
  });
});
