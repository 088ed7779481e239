/**
 * `reclab eval`: evaluates one saved model directory, or one recommendation file produced
 * elsewhere, on a dataset split under an explicit protocol, printing each metric with its 95 %
 * bootstrap confidence interval and the protocol (see docs/eval.md).
 *
 *   reclab eval --data <source> --model <dir>  [--protocol full|uni100|pop100|pop100:all] [--metrics …]
 *   reclab eval --data <source> --recs <file.csv|.jsonl> [--keep-history] [--metrics …]
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatInteractions } from '../../data/interactions.ts';
import { loadDataset } from '../../data/load.ts';
import { splitDataset, type SplitOptions } from '../../data/split.ts';
import { loadModel } from '../../models/registry.ts';
import { evaluate, type EvalResult } from '../../eval/evaluate.ts';
import { evaluateLists, readRecommendations } from '../../eval/recfile.ts';
import { bootstrapCI } from '../../eval/significance.ts';
import { toCsr, type Protocol } from '../../eval/protocol.ts';
import { fmt, toText } from '../../eval/table.ts';
import { loadSafetensors } from '../../nn/safetensors.ts';
import { isBundleDir, type BundleMeta } from '../../serve/bundle.ts';
import type { Dataset, Interactions } from '../../data/types.ts';

interface EvalFlags {
  data: string;
  format: string;
  model?: string;
  recs?: string;
  split: string;
  stage: string;
  protocol: string;
  metrics: string;
  ties: string;
  seed: string;
  keepHistory?: boolean;
  allowLeak?: boolean;
  candidates?: string;
  json?: string;
  progress: boolean;
}

function splitOptions(kind: string): SplitOptions {
  if (kind === 'loo') return { kind: 'loo' };
  if (kind === 'temporal') return { kind: 'temporal' };
  if (kind === 'ratio') return { kind: 'ratio', train: 0.8, valid: 0.1 };
  throw new Error(`--split: expected loo, temporal or ratio, got "${kind}"`);
}

/** Registers `reclab eval`. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a saved model or a recommendation file on a dataset split, with the protocol stated')
    .requiredOption('--data <source>', 'dataset path or registry name (the same data the model was trained on)')
    .option('--format <fmt>', 'reader format (auto-detected by default)', 'auto')
    .option('--model <dir>', 'saved model directory (trained on the train part of the same split)')
    .option('--recs <file>', 'recommendation file: CSV/TSV (user,item[,rank|score]) or JSONL ({"user","items"})')
    .option('--split <kind>', 'loo, temporal or ratio (0.8/0.1/0.1)', 'loo')
    .option('--stage <stage>', 'test (history = train + valid) or valid (history = train)', 'test')
    .option('--protocol <p>', 'full, uniN, popN or popN:all (models only); see --candidates for re-ranking', 'full')
    .option('--candidates <file>', 'models only: re-rank these per-user candidate lists (same formats as --recs; unknown items are skipped)')
    .option('--metrics <list>', 'comma-separated metrics', 'hr@10,ndcg@10,mrr@10,recall@20,coverage@10')
    .option('--ties <rule>', 'pessimistic or optimistic', 'pessimistic')
    .option('--seed <n>', 'seed of sampled candidates and bootstrap', '0')
    .option('--keep-history', 'recommendation files: do not drop history items from the lists')
    .option('--json <file>', 'also write the result (metrics, protocol, per-user values) as JSON')
    .option('--allow-leak', 'evaluate a bundle even though it was fitted on the held-out events (its figures are then not a result)')
    .option('--no-progress', 'no progress bars')
    .action(async (o: EvalFlags) => {
      if (!o.model === !o.recs) throw new Error('give exactly one of --model <dir> or --recs <file>');
      if (o.stage !== 'test' && o.stage !== 'valid') throw new Error(`--stage: expected test or valid, got "${o.stage}"`);
      if (o.ties !== 'pessimistic' && o.ties !== 'optimistic') throw new Error(`--ties: expected pessimistic or optimistic, got "${o.ties}"`);
      const seed = Number(o.seed);
      if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got "${o.seed}"`);
      const metrics = o.metrics.split(',').map((m) => m.trim()).filter(Boolean);
      const dataset = await loadDataset({ source: o.data, format: o.format }, {}, { progress: o.progress });
      const split = splitDataset(dataset, splitOptions(o.split));
      const { train, valid, test } = split;
      const testing = o.stage === 'test';
      const exclude = testing ? [train, valid] : [train];
      const targets = testing ? test : valid;
      let result: EvalResult;
      let what: string;
      if (o.model) {
        const model = await loadModel(o.model);
        what = `model ${model.name} (${o.model})`;
        if (isBundleDir(o.model)) {
          // A bundle from `reclab train` records every event it was fitted on; scoring it on
          // targets it saw measures memory, not recommendation (hr@10 0.2566 against 0.1410).
          const leaked = await eventsSeenByBundle(o.model, dataset, targets);
          if (leaked.seen > 0 && !o.allowLeak) {
            throw new Error(
              `${o.model} was fitted on ${leaked.seen} of the ${leaked.total} ${o.stage} events of this split (a bundle from \`reclab train\` fits on every event, ` +
                `the held-out ones included), so its figures would be inflated. Evaluate a model trained on the train part ` +
                `(\`reclab bench\` or \`reclab run\` save them under runs/<run>/models/), or pass --allow-leak to evaluate it anyway.`,
            );
          }
          if (leaked.seen > 0) what += `, fitted on ${leaked.seen} of ${leaked.total} ${o.stage} events (--allow-leak)`;
        }
        let protocol: Protocol | string = o.protocol;
        if (o.candidates) {
          const lists = readRecommendations(o.candidates, dataset).lists;
          const users = Int32Array.from(lists.keys());
          protocol = { kind: 'rerank', candidates: toCsr(users, [...lists.values()].map((l) => [...l].filter((i) => i >= 0)), dataset.nUsers) };
          what += ` re-ranking ${o.candidates}`;
        }
        result = await evaluate(
          model,
          { history: testing ? concatInteractions(train, valid) : train, exclude, targets, train, seen: [train, valid, test] },
          { metrics, protocol, ties: o.ties, seed, progress: o.progress ? undefined : false },
        );
      } else {
        what = `recommendations ${o.recs}`;
        result = evaluateLists(readRecommendations(o.recs!, dataset), { exclude, targets, train }, { metrics, keepHistory: o.keepHistory });
      }
      const rows = metrics.map((m) => {
        const per = result.perUser[m];
        const ci = per ? bootstrapCI(per, { seed }) : null;
        return [m, fmt(result.metrics[m]), ci ? `[${fmt(ci.low)}, ${fmt(ci.high)}]` : '—'];
      });
      const p = result.protocol;
      process.stdout.write(
        toText({
          header: ['metric', 'value', '95 % CI (bootstrap over users)'],
          rows,
          notes: [
            `${what} on ${dataset.name} (fingerprint ${dataset.fingerprint.slice(0, 12)}), ${o.stage} stage, ${split.protocol.description}`,
            `protocol: ${p.candidates}; excluded: ${p.excluded}; ties: ${p.ties}; ${p.nUsers} users, ${p.nItems} items; ${result.seconds.toFixed(2)} s`,
          ],
        }),
      );
      if (o.json) {
        const perUser = Object.fromEntries(Object.entries(result.perUser).map(([k, v]) => [k, Array.from(v)]));
        writeFileSync(o.json, `${JSON.stringify({ what, dataset: { name: dataset.name, fingerprint: dataset.fingerprint }, split: split.protocol, stage: o.stage, protocol: p, metrics: result.metrics, users: Array.from(result.users), perUser }, null, 1)}\n`);
      }
    });
}

/**
 * How many of the held-out events (`targets`, in `dataset`'s ids) a bundle was fitted on: the
 * bundle's history.safetensors holds every event its model saw, matched here by raw user and item
 * id, so a bundle trained on another preparation of the same source is caught too.
 */
async function eventsSeenByBundle(dir: string, dataset: Dataset, targets: Interactions): Promise<{ seen: number; total: number }> {
  const meta = JSON.parse(readFileSync(join(dir, 'serve.json'), 'utf8')) as BundleMeta;
  const { tensors } = await loadSafetensors(join(dir, 'history.safetensors'));
  const offsets = tensors.offsets?.data;
  const items = tensors.items?.data;
  if (!(offsets instanceof Int32Array) || !(items instanceof Int32Array)) throw new Error(`${dir}/history.safetensors: expected int32 "offsets" and "items"`);
  const bundleUser = new Map(meta.users.map((raw, i) => [raw, i]));
  const bundleItem = new Map(meta.items.map((raw, i) => [raw, i]));
  let seen = 0;
  let total = 0;
  for (let u = 0; u < targets.nUsers; u++) {
    const from = targets.offsets[u];
    const to = targets.offsets[u + 1];
    if (from === to) continue;
    total += to - from;
    const bu = bundleUser.get(dataset.userIds.toRaw(u));
    if (bu === undefined) continue;
    const past = new Set(items.subarray(offsets[bu], offsets[bu + 1]));
    for (let p = from; p < to; p++) {
      const bi = bundleItem.get(dataset.itemIds.toRaw(targets.items[p]));
      if (bi !== undefined && past.has(bi)) seen++;
    }
  }
  return { seen, total };
}
