/**
 * `reclab sim`: policies in the simulation environment (docs/sim.md).
 *
 *   reclab sim --data ../shared/datasets/ml-100k/u.data --format ml-100k --mode NX_0 \
 *     --policies random,popularity,greedy,epsilon-greedy,linucb,dqn,a2c --seeds 5 --json
 *
 * Prints one line per policy (a JSON object with `--json`): cumulative reward, interaction length,
 * single-turn reward, diversity, novelty — means over seeds. `--out <dir>` also writes result.json
 * and the reward-over-training curves (curves.svg). `--experiment synalign` runs the SynAlign
 * table instead (real only / + synthetic / + MMD-weighted synthetic); `--experiment sprec` the
 * SPRec rounds (seeds 0 … --seeds − 1, then the means per round).
 */
import type { Command } from 'commander';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../data/load.ts';
import { createModel, loadModel } from '../../models/registry.ts';
import { lineChart, type Series } from '../../util/plot.ts';
import { POLICY_NAMES, runSimExperiment, type PolicyName, type PolicyResult } from '../../sim/experiment.ts';
import { SIM_MODES, type EnvConfig, type SimMode } from '../../sim/env.ts';
import { runSynAlignExperiment } from '../../sim/synalign-experiment.ts';
import { pairRecords, runSprec, validatePairsJsonl, writePairsJsonl, type DpoPairRecord, type SprecRound } from '../../sim/sprec.ts';
import { categoriesFromSide } from '../../sim/env.ts';
import { runSprecSasrecExperiment } from '../../sim/sprec-sasrec-experiment.ts';
import { RERANKERS, runRerankExperiment } from '../../sim/lists.ts';
import { scoreAllUsers } from '../../sim/experiment.ts';
import { fitRatingModel } from '../../sim/user-model.ts';
import { pairedTTest } from '../../eval/significance.ts';
import { LEARNED_RERANKERS, runLearnedRerank, summarizeLearned, type LearnedName, type LearnedSeed } from '../../sim/rerank/experiment.ts';

interface SimFlags {
  data: string;
  format: string;
  mode: string;
  policies: string;
  seeds: string;
  episodes: string;
  trainEpisodes: string;
  curveEvery: string;
  window: string;
  threshold: string;
  maxTurns: string;
  listSize: string;
  greedyModel: string;
  greedyLoad?: string;
  json?: boolean;
  out?: string;
  progress: boolean;
  experiment: string;
  rounds: string;
  beta: string;
  pairsOut?: string;
  sprecModel: string;
  sprecConfig: string;
  earlyWindow: string;
  learned: string;
  lambdas: string;
  epochs: string;
  patience: string;
  rerankLog?: string;
}

function int(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: expected an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** The reward-over-training chart: one line per learning policy, the mean over seeds per block. */
export function curveChart(results: readonly PolicyResult[], every: number): string {
  const series: Series[] = results.filter((r) => r.curve && r.curve.length > 0 && r.curve[0].length > 0).map((r) => {
    const curve = r.curve!;
    const y = curve[0].map((_, j) => curve.reduce((a, c) => a + c[j], 0) / curve.length);
    return { name: r.policy, x: y.map((_, j) => (j + 1) * every), y };
  });
  return lineChart(series, { title: 'Reward over training (mean over seeds)', xLabel: 'training episodes', yLabel: 'cumulative reward per episode' });
}

/** `--experiment synalign`: the SynAlign table, one JSON line per seed then the summary. */
async function synAlign(o: SimFlags): Promise<void> {
  const data = await loadDataset({ source: o.data, format: o.format }, {}, { progress: o.progress });
  const seeds = int('seeds', o.seeds, 1);
  const result = runSynAlignExperiment(data, { seeds }, (s) => process.stdout.write(`${JSON.stringify(s)}\n`));
  process.stdout.write(`${JSON.stringify({ summary: result.summary })}\n`);
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'synalign.json'), `${JSON.stringify({ data: o.data, ...result }, null, 1)}\n`);
  }
}

/** `--experiment sprec`: one JSON line per seed and round (0 = the SFT base), then the means per round; DPO pairs as JSONL. */
async function sprec(o: SimFlags): Promise<void> {
  const data = await loadDataset({ source: o.data, format: o.format }, {}, { progress: o.progress });
  const beta = Number(o.beta);
  if (!(beta > 0)) throw new Error(`--beta: expected a positive number, got "${o.beta}"`);
  const cats = categoriesFromSide(data.itemSide, data.nItems);
  const titleCol = data.itemSide?.columns.title;
  const titles = titleCol?.type === 'text' ? titleCol.values.map((t, i) => t ?? data.itemIds.toRaw(i)) : data.itemIds.toArray();
  const records: DpoPairRecord[] = [];
  const seeds = int('seeds', o.seeds, 1);
  if (o.sprecModel === 'sasrec') {
    let extra: Record<string, unknown>;
    try {
      extra = JSON.parse(o.sprecConfig) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`--sprec-config: not JSON (${(error as Error).message})`);
    }
    const { pairs } = await runSprecSasrecExperiment(data, cats, titles, seeds, { rounds: int('rounds', o.rounds, 1), beta, ...extra },
      (line) => process.stdout.write(`${JSON.stringify(line)}\n`), o.pairsOut);
    if (o.pairsOut) process.stderr.write(`wrote ${pairs} DPO pairs to ${o.pairsOut} (schema-checked on write and read back)\n`);
    return;
  }
  if (o.sprecModel !== 'mean') throw new Error(`--sprec-model: expected mean or sasrec, got "${o.sprecModel}"`);
  const all: SprecRound[][] = [];
  for (let seed = 0; seed < seeds; seed++) {
    all.push(runSprec(data, cats, { rounds: int('rounds', o.rounds, 1), beta, seed }, (r, pairs) => {
      process.stdout.write(`${JSON.stringify({ seed, ...r })}\n`);
      records.push(...pairRecords(pairs, titles));
    }));
  }
  // means over seeds per round
  for (let r = 0; r < all[0].length; r++) {
    const mean = (k: keyof SprecRound): number => all.reduce((a, rounds) => a + rounds[r][k], 0) / all.length;
    process.stdout.write(`${JSON.stringify({ round: r, seeds, hr: mean('hr'), ndcg: mean('ndcg'), div_ratio: mean('div_ratio'), or_ratio: mean('or_ratio'), mgu: mean('mgu'), dgu: mean('dgu') })}\n`);
  }
  if (o.pairsOut) {
    writePairsJsonl(o.pairsOut, records);
    const n = validatePairsJsonl(o.pairsOut, readFileSync(o.pairsOut, 'utf8'));
    process.stderr.write(`wrote ${n} DPO pairs to ${o.pairsOut} (schema-checked on write and read back)\n`);
  }
}

/** `--experiment rerank`: list logs from the --greedy-model ranker, re-rankers per seed, then means and paired t-tests against the initial ranking. */
async function rerank(o: SimFlags): Promise<void> {
  const data = await loadDataset({ source: o.data, format: o.format }, {}, { progress: o.progress });
  const seeds = int('seeds', o.seeds, 1);
  const cats = categoriesFromSide(data.itemSide, data.nItems);
  const ranker = o.greedyLoad ? await loadModel(o.greedyLoad) : createModel(o.greedyModel);
  if (!o.greedyLoad) await ranker.fit(data, { seed: 0, progress: o.progress });
  const user = fitRatingModel(data, { seed: 0 });
  if (o.learned.trim() !== '') return learnedRerank(o, user.rewards, scoreAllUsers(ranker, data), cats, seeds);
  const res = runRerankExperiment(user.rewards, scoreAllUsers(ranker, data), cats, seeds, 10);
  for (const r of res) process.stdout.write(`${JSON.stringify(r)}\n`);
  for (const name of RERANKERS) {
    const col = (m: 'ndcg' | 'map' | 'clicks'): number[] => res.map((r) => r.figures[name][m]);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const t = pairedTTest(col('ndcg'), res.map((r) => r.figures.initial.ndcg));
    process.stdout.write(`${JSON.stringify({ reranker: name, 'ndcg@10': mean(col('ndcg')), 'map@10': mean(col('map')), 'clicks@10': mean(col('clicks')), ndcg_vs_initial: { mean_diff: t.meanDiff, p: t.p } })}\n`);
  }
}

/** Seeds of an earlier `--rerank-log` (one JSON object per seed); a line that is not one names the file and line. */
function readSeedLog(file: string, models: string[]): LearnedSeed[] {
  return readFileSync(file, 'utf8').split('\n').flatMap((line, k) => {
    if (line.trim() === '') return [];
    let r: LearnedSeed;
    try {
      r = JSON.parse(line) as LearnedSeed;
    } catch (error) {
      throw new Error(`${file}:${k + 1}: not JSON (${(error as Error).message})`);
    }
    if (!Number.isInteger(r.seed) || typeof r.figures !== 'object' || r.figures === null) throw new Error(`${file}:${k + 1}: expected a seed line with "seed" and "figures"`);
    for (const m of ['initial', ...models]) if (typeof r.figures[m]?.ndcg !== 'number') throw new Error(`${file}:${k + 1}: field figures.${m} missing (the log is of another --learned list)`);
    return [r];
  });
}

/** `--experiment rerank --learned …`: RELIFE / its ablation / DIN-style against the initial ranking and MMR; one JSON line per seed, then one per re-ranker. */
function learnedRerank(o: SimFlags, rewards: Parameters<typeof runLearnedRerank>[0], scores: Float32Array, cats: ReturnType<typeof categoriesFromSide>, seeds: number): void {
  const models = o.learned.split(',').map((m) => m.trim()).filter((m) => m !== '');
  for (const m of models) if (!(LEARNED_RERANKERS as readonly string[]).includes(m)) throw new Error(`--learned: unknown re-ranker "${m}"; known: ${LEARNED_RERANKERS.join(', ')}`);
  const lambdas = o.lambdas.split(',').map((x) => {
    const v = Number(x);
    if (x.trim() === '' || !Number.isFinite(v) || v < 0) throw new Error(`--lambdas: expected non-negative numbers, got "${x}"`);
    return v;
  });
  const done = o.rerankLog && existsSync(o.rerankLog) ? readSeedLog(o.rerankLog, models) : [];
  if (done.length > 0) process.stderr.write(`${o.rerankLog}: seeds ${done.map((r) => r.seed).join(', ')} already run; kept\n`);
  const res = runLearnedRerank(rewards, scores, cats, {
    seeds, models: models as LearnedName[], lambdas, train: { epochs: int('epochs', o.epochs, 1), patience: int('patience', o.patience, 1) }, done,
    onSeed: (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      if (o.rerankLog) appendFileSync(o.rerankLog, `${JSON.stringify(r)}\n`);
    },
  });
  for (const row of summarizeLearned(res)) process.stdout.write(`${JSON.stringify(row)}\n`);
}

/** Registers `reclab sim`. */
export function register(program: Command): void {
  program
    .command('sim')
    .description('run recommendation policies in a simulated environment (user model, quit rule) and report long-term metrics')
    .requiredOption('--data <source>', 'rating data with item categories, e.g. ../shared/datasets/ml-100k/u.data')
    .option('--format <fmt>', 'reader format (auto-detected by default)', 'auto')
    .option('--mode <mode>', `environment mode: ${SIM_MODES.join(', ')}`, 'NX_0')
    .option('--policies <list>', `comma-separated: ${POLICY_NAMES.join(', ')}`, 'random,popularity,greedy')
    .option('--seeds <n>', 'seeds 0 … n−1', '5')
    .option('--episodes <n>', 'evaluation episodes per seed and policy', '300')
    .option('--train-episodes <n>', 'training episodes per seed for learning policies', '3000')
    .option('--curve-every <n>', 'training episodes per point of the training curve', '100')
    .option('--window <n>', 'quit rule: last W recommended items looked at', '3')
    .option('--threshold <n>', 'quit rule: a category more than this many times in the window ends the episode', '1')
    .option('--max-turns <n>', 'turns per episode at most (NX_X: exactly)', '20')
    .option('--list-size <n>', 'items recommended per turn', '1')
    .option('--early-window <kind>', 'quit window while fewer than W items were shown: last (all of them) or python-slice (EasyRL4Rec\'s sequence_action[t - W : t]; docs/sim.md)', 'last')
    .option('--greedy-model <name>', 'registered model fitted on the data for the greedy policy', 'ease')
    .option('--greedy-load <dir>', 'a saved reclab model for the greedy policy (instead of fitting --greedy-model)')
    .option('--json', 'one JSON object per policy')
    .option('--out <dir>', 'write result.json and curves.svg here')
    .option('--no-progress', 'no progress bar')
    .option('--experiment <name>', 'policies (the policy comparison), synalign (real / + synthetic / + MMD-weighted synthetic) sprec (self-play DPO rounds) or rerank (re-rankers on list logs); docs/sim.md', 'policies')
    .option('--rounds <n>', 'sprec: self-play rounds', '3')
    .option('--beta <x>', 'sprec: DPO β', '0.1')
    .option('--learned <list>', `rerank: learned re-rankers to train and compare (${LEARNED_RERANKERS.join(', ')}); empty = the training-free ones only`, '')
    .option('--lambdas <list>', 'rerank --learned: InfoNCE weights λ tried for RELIFE, picked on the validation lists', '0.1,0.5')
    .option('--epochs <n>', 'rerank --learned: most training epochs (early stopping on validation)', '8')
    .option('--patience <n>', 'rerank --learned: stop after this many epochs without a validation gain', '2')
    .option('--rerank-log <file>', 'rerank --learned: append each seed\'s figures here; seeds already in the file are kept, not rerun (resume)')
    .option('--sprec-model <name>', 'sprec: mean (the mean-pooled softmax model) or sasrec (reclab\'s SASRec, full-softmax loss)', 'mean')
    .option('--sprec-config <json>', 'sprec --sprec-model sasrec: settings as JSON, e.g. {"dpoLr":1e-4,"holdout":"valid","sasrec":{"epochs":60}} (docs/sim.md)', '{}')
    .option('--pairs-out <file>', 'sprec: write every round\'s DPO pairs as JSONL (prompt, chosen, rejected; titles quoted)')
    .action(async (o: SimFlags) => {
      if (o.experiment === 'synalign') return synAlign(o);
      if (o.experiment === 'sprec') return sprec(o);
      if (o.experiment === 'rerank') return rerank(o);
      if (o.experiment !== 'policies') throw new Error(`--experiment: expected policies, synalign, sprec or rerank, got "${o.experiment}"`);
      if (!(SIM_MODES as readonly string[]).includes(o.mode)) throw new Error(`--mode: expected one of ${SIM_MODES.join(', ')}, got "${o.mode}"`);
      const policies = o.policies.split(',').map((p) => p.trim()).filter((p) => p !== '');
      for (const p of policies) if (!(POLICY_NAMES as readonly string[]).includes(p)) throw new Error(`--policies: unknown policy "${p}"; known: ${POLICY_NAMES.join(', ')}`);
      const seeds = int('seeds', o.seeds, 1), episodes = int('episodes', o.episodes, 1);
      const trainEpisodes = int('train-episodes', o.trainEpisodes, 0), curveEvery = int('curve-every', o.curveEvery, 1);
      const env = { mode: o.mode as SimMode, window: int('window', o.window, 1), threshold: int('threshold', o.threshold, 0), maxTurns: int('max-turns', o.maxTurns, 1), listSize: int('list-size', o.listSize, 1), earlyWindow: o.earlyWindow as EnvConfig['earlyWindow'] };
      const data = await loadDataset({ source: o.data, format: o.format }, {}, { progress: o.progress });
      process.stderr.write(`${data.name}: ${data.nUsers} users, ${data.nItems} items, ${data.items.length} ratings\n`);
      let greedy;
      if (policies.includes('greedy')) {
        if (o.greedyLoad) greedy = await loadModel(o.greedyLoad);
        else {
          greedy = createModel(o.greedyModel);
          await greedy.fit(data, { seed: 0, progress: o.progress });
        }
        if (greedy.nItems !== data.nItems) throw new Error(`greedy model scores ${greedy.nItems} items, the data has ${data.nItems}: it must be fitted on the same data`);
      }
      const result = runSimExperiment(data, {
        env, policies: policies as PolicyName[], seeds, episodes, trainEpisodes, curveEvery, greedy, progress: o.progress,
      });
      const um = result.userModel;
      process.stderr.write(`user model: biased MF, train RMSE ${um.trainRmse.toFixed(4)}, rewards clipped to [${um.clip.join(', ')}]\n`);
      for (const r of result.results) {
        const { per_seed: _perSeed, curve: _curve, ...line } = r;
        if (o.json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else {
          const vs = r.vs_greedy ? `  vs greedy ${r.vs_greedy.mean_diff >= 0 ? '+' : ''}${r.vs_greedy.mean_diff.toFixed(2)} (p ${r.vs_greedy.p.toPrecision(2)})` : '';
          process.stdout.write(`${r.policy.padEnd(15)} cumulative ${r.cumulative_reward.toFixed(2)} ± ${r.cumulative_reward_std.toFixed(2)}  length ${r.length.toFixed(2)}  turn ${r.turn_reward.toFixed(3)}  diversity ${r.diversity.toFixed(3)}  novelty ${r.novelty.toFixed(3)}${vs}\n`);
        }
      }
      if (o.out) {
        mkdirSync(o.out, { recursive: true });
        writeFileSync(join(o.out, 'result.json'), `${JSON.stringify({ data: o.data, format: o.format, greedy: o.greedyLoad ?? o.greedyModel, ...result }, null, 1)}\n`);
        writeFileSync(join(o.out, 'curves.svg'), curveChart(result.results, curveEvery));
        process.stderr.write(`wrote ${join(o.out, 'result.json')} and curves.svg\n`);
      }
    });
}
