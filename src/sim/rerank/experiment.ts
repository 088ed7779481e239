/**
 * The learned re-rankers against the training-free ones on environment list logs (issue 24,
 * must-show 3). Per seed s: list logs from the ranker sampled with seed s (lists.ts), split in
 * time per user (train.ts: train / valid / test), the baselines (initial ranking, MMR) and each
 * learned model trained with seed s on train, its InfoNCE weight λ picked from a grid by valid
 * NDCG@k (never the test lists), then evaluated on the test (candidate) lists. Clicks are the user
 * model's (rating ≥ clickAt). Summaries: means and standard deviations over seeds, paired t-tests
 * over seeds against the initial ranking and against the DIN-style re-ranker.
 */
import { pairedTTest } from '../../eval/significance.ts';
import type { ItemCategories } from '../env.ts';
import { generateListLogs, rerankMmr, type ListLog, type ListLogOptions } from '../lists.ts';
import type { RewardMatrix } from '../user-model.ts';
import { DinReranker } from './din.ts';
import type { EngineReranker, RerankNetConfig } from './encoder.ts';
import { Relife } from './relife.ts';
import { evaluate, evaluateModel, splitLogs, trainReranker, TRAIN_DEFAULTS, type TrainOptions, type TrainReport } from './train.ts';

export const LEARNED_RERANKERS = ['relife', 'relife-nodis', 'din'] as const;
export type LearnedName = (typeof LEARNED_RERANKERS)[number];

/** Settings of {@link runLearnedRerank}. */
export interface LearnedRerankOptions {
  seeds: number;
  k: number;
  models: LearnedName[];
  /** λ grid of the RELIFE variants (selected on valid). */
  lambdas: number[];
  net: Omit<RerankNetConfig, 'nItems' | 'seed' | 'maxList' | 'maxHistory' | 'batch'>;
  train: Partial<Omit<TrainOptions, 'seed' | 'lambda' | 'k'>>;
  logs: Partial<ListLogOptions>;
  mmrLambda: number;
  /** Seeds already run (e.g. read back from an earlier run's log): kept as they are, not rerun. */
  done: LearnedSeed[];
  /** Called with each seed's figures as soon as they are known. */
  onSeed?: (s: LearnedSeed) => void;
}

export const LEARNED_DEFAULTS: LearnedRerankOptions = { seeds: 5, k: 10, models: [...LEARNED_RERANKERS], lambdas: [0.1, 0.5], net: { dims: 16, hidden: 32 }, train: { epochs: 8, patience: 2 }, logs: {}, mmrLambda: 0.7, done: [] };

type Figures = { ndcg: number; map: number; clicks: number };

/** One seed: test figures of every re-ranker, and how each learned one was trained. */
export interface LearnedSeed {
  seed: number;
  figures: Record<string, Figures>;
  training: Record<string, { lambda: number; validNdcg: number; bestEpoch: number; cpuSeconds: number; grid: { lambda: number; validNdcg: number; bestEpoch: number }[]; epochs: TrainReport['epochs'] }>;
}

function build(name: LearnedName, cfg: RerankNetConfig, cats: ItemCategories): EngineReranker {
  if (name === 'din') return new DinReranker(cfg, cats);
  return new Relife(cfg, cats, name === 'relife');
}

const cpu = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

/** Runs every seed (see the file comment). `ranker` is row-major nUsers × nItems. */
export function runLearnedRerank(rewards: RewardMatrix, ranker: Float32Array, cats: ItemCategories, options: Partial<LearnedRerankOptions> = {}): LearnedSeed[] {
  const o = { ...LEARNED_DEFAULTS, ...options };
  const out: LearnedSeed[] = [];
  for (let s = 0; s < o.seeds; s++) {
    const prior = o.done.find((r) => r.seed === s);
    if (prior) {
      out.push(prior);
      continue;
    }
    const logs: ListLog[] = generateListLogs(rewards, ranker, { ...o.logs, seed: s });
    const { train, valid, test } = splitLogs(logs, ranker, rewards.nItems);
    const byUser = new Map(logs.map((l) => [l.user, l]));
    const figures: Record<string, Figures> = {
      initial: evaluate((x) => Array.from(x.candidates.keys()), test, o.k),
      mmr: evaluate((x) => rerankMmr(byUser.get(x.user)!, cats, o.mmrLambda), test, o.k),
    };
    const training: LearnedSeed['training'] = {};
    const cfg: RerankNetConfig = { ...o.net, nItems: rewards.nItems, maxList: Math.max(test[0].candidates.length, valid[0].candidates.length), maxHistory: logs[0].past.length, batch: o.train.batch ?? TRAIN_DEFAULTS.batch, seed: s };
    for (const name of o.models) {
      const t0 = cpu();
      const grid = name === 'din' ? [0] : o.lambdas;
      let best: { model: EngineReranker; lambda: number; report: TrainReport } | null = null;
      const tried: { lambda: number; validNdcg: number; bestEpoch: number }[] = [];
      for (const lambda of grid) {
        const model = build(name, cfg, cats);
        const report = trainReranker(model, train, valid, { ...o.train, lambda, k: o.k, seed: s });
        tried.push({ lambda, validNdcg: report.bestValidNdcg, bestEpoch: report.bestEpoch });
        if (!best || report.bestValidNdcg > best.report.bestValidNdcg) best = { model, lambda, report };
      }
      figures[name] = evaluateModel(best!.model, test, o.k);
      training[name] = { lambda: best!.lambda, validNdcg: best!.report.bestValidNdcg, bestEpoch: best!.report.bestEpoch, cpuSeconds: cpu() - t0, grid: tried, epochs: best!.report.epochs };
    }
    const r = { seed: s, figures, training };
    out.push(r);
    o.onSeed?.(r);
  }
  return out;
}

/** Per re-ranker: means, standard deviations over seeds, paired t-tests against `initial` and `din` (RELIFE also against `relife-nodis`). */
export function summarizeLearned(res: readonly LearnedSeed[]): Record<string, unknown>[] {
  const names = Object.keys(res[0].figures);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = (xs: number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
  const metrics = ['ndcg', 'map', 'clicks'] as const;
  return names.map((name) => {
    const col = (n: string, m: (typeof metrics)[number]): number[] => res.map((r) => r.figures[n][m]);
    const row: Record<string, unknown> = { reranker: name, seeds: res.length };
    for (const m of metrics) {
      row[m] = mean(col(name, m));
      row[`${m}_std`] = std(col(name, m));
    }
    // RELIFE is also tested against its ablation (the disinterest miner's contribution)
    for (const base of name === 'relife' ? ['initial', 'din', 'relife-nodis'] : ['initial', 'din']) {
      if (base === name || !names.includes(base) || res.length < 2) continue;
      row[`vs_${base}`] = Object.fromEntries(metrics.map((m) => {
        const t = pairedTTest(col(name, m), col(base, m));
        return [m, { mean_diff: t.meanDiff, p: t.p }];
      }));
    }
    return row;
  });
}
