/**
 * The SPRec-on-SASRec experiment behind `reclab sim --experiment sprec --sprec-model sasrec`:
 * seeds 0 … seeds − 1 (each: its own base SASRec and rounds), one JSON line per seed and round,
 * then per round the means and standard deviations over seeds with paired t-tests against round 0
 * (over seeds) for every figure; the DPO pairs of every round as SPRec-style JSONL.
 */
import { readFileSync } from 'node:fs';
import type { Interactions } from '../data/types.ts';
import { pairedTTest } from '../eval/significance.ts';
import type { ItemCategories } from './env.ts';
import { pairRecords, validatePairsJsonl, writePairsJsonl, type DpoPairRecord } from './sprec.ts';
import { runSprecSasrec, type SprecSasrecOptions, type SprecSasrecRound } from './sprec-sasrec.ts';

/** The figures summarised per round. */
export const SPREC_FIGURES = ['hr', 'ndcg', 'div_ratio', 'or_ratio', 'mgu', 'dgu', 'arp', 'coverage', 'gini', 'dpo_loss', 'same_pairs'] as const;

/** One round's summary over seeds. */
export interface SprecSummary {
  round: number;
  seeds: number;
  mean: Record<string, number>;
  std: Record<string, number>;
  /** Paired t-test over seeds against round 0 (rounds ≥ 1, figures of both rounds). */
  vs_round0?: Record<string, { mean_diff: number; p: number }>;
}

const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const stdOf = (xs: number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - meanOf(xs)) ** 2, 0) / (xs.length - 1)));

/** Means, standard deviations and paired tests against round 0 for rounds[seed][round]. */
export function summariseRounds(all: readonly SprecSasrecRound[][]): SprecSummary[] {
  return all[0].map((_, r) => {
    const col = (k: (typeof SPREC_FIGURES)[number], round: number): number[] => all.map((rounds) => rounds[round][k]);
    const mean: Record<string, number> = {}, std: Record<string, number> = {};
    const vs: Record<string, { mean_diff: number; p: number }> = {};
    for (const k of SPREC_FIGURES) {
      mean[k] = meanOf(col(k, r));
      std[k] = stdOf(col(k, r));
      if (r > 0 && k !== 'dpo_loss' && k !== 'same_pairs') {
        const t = pairedTTest(col(k, r), col(k, 0));
        vs[k] = { mean_diff: t.meanDiff, p: t.p };
      }
    }
    return { round: r, seeds: all.length, mean, std, ...(r > 0 ? { vs_round0: vs } : {}) };
  });
}

/**
 * Runs `seeds` seeds; `emit` receives every JSON line (per seed and round, then the summaries).
 * With `pairsOut`, every round's pairs (all seeds) are written as JSONL after a schema check of
 * each record, then read back and validated again; returns the number of pairs written.
 */
export async function runSprecSasrecExperiment(data: Interactions, cats: ItemCategories, titles: readonly string[], seeds: number,
  options: Partial<SprecSasrecOptions>, emit: (line: object) => void, pairsOut?: string): Promise<{ summary: SprecSummary[]; pairs: number }> {
  const all: SprecSasrecRound[][] = [];
  const records: DpoPairRecord[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    all.push(await runSprecSasrec(data, cats, { ...options, seed }, (r, pairs) => {
      emit({ model: 'sasrec', seed, holdout: options.holdout ?? 'test', ...r });
      records.push(...pairRecords(pairs, titles));
    }));
  }
  const summary = summariseRounds(all);
  for (const s of summary) emit({ model: 'sasrec', holdout: options.holdout ?? 'test', ...s });
  let n = 0;
  if (pairsOut) {
    writePairsJsonl(pairsOut, records);
    n = validatePairsJsonl(pairsOut, readFileSync(pairsOut, 'utf8'));
  }
  return { summary, pairs: n };
}
