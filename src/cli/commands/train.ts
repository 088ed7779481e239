/**
 * `reclab train`: fit a registered model on a dataset and write a servable bundle
 * (checkpoint + raw-id maps + history) for `reclab serve`.
 */
import type { Command } from 'commander';
import { loadDataset } from '../../data/load.ts';
import { modelEntry } from '../../models/registry.ts';
import { trainBundle } from '../../serve/train.ts';

/** Parses `key=value` pairs (values as JSON when they parse, else strings). */
function configPair(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--set: expected key=value, got "${value}"`);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...previous, [value.slice(0, eq)]: parsed };
}

/** Registers `reclab train`. */
export function register(program: Command): void {
  program
    .command('train')
    .description('fit a model on a dataset and save it for serving')
    .requiredOption('--data <source>', 'dataset path or registry name (see `reclab data`)')
    .option('--format <fmt>', 'reader format (auto-detected by default)', 'auto')
    .requiredOption('--model <name>', 'registered model, e.g. pop, ease, itemknn, sasrec')
    .requiredOption('--out <dir>', 'output directory of the servable model')
    .option('--set <key=value>', 'hyperparameter (repeatable)', configPair, {})
    .option('--seed <n>', 'random seed', (v) => Number(v), 42)
    .action(async (o: { data: string; format: string; model: string; out: string; set: Record<string, unknown>; seed: number }) => {
      modelEntry(o.model); // unknown names fail before the data is read
      if (!Number.isInteger(o.seed)) throw new Error(`--seed: expected an integer`);
      const data = await loadDataset({ source: o.data, format: o.format }, {}, { progress: true });
      process.stderr.write(`${data.name}: ${data.userIds.size} users, ${data.itemIds.size} items, ${data.items.length} events\n`);
      const report = await trainBundle(data, { model: o.model, config: o.set, seed: o.seed, out: o.out, progress: true });
      process.stderr.write(`trained ${o.model} in ${report.seconds.toFixed(1)} s → ${o.out}\n`);
    });
}
