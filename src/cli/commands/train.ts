/**
 * `reclab train --data <source> --model <name> --out <dir> [--key=value …]`: fit a registered
 * model on a dataset and write a servable bundle (checkpoint + raw-id maps + history) for
 * `reclab serve`. Hyperparameters are overrides in the CLI's one syntax (`--maxLen=200`).
 */
import type { Command } from 'commander';
import { loadDataset } from '../../data/load.ts';
import { modelEntry } from '../../models/registry.ts';
import { trainBundle } from '../../serve/train.ts';
import { overridesToConfig, splitOverrides } from './overrides.ts';

/** Registers `reclab train`. */
export function register(program: Command): void {
  program
    .command('train')
    .description('fit a model on a dataset and save it for serving')
    .requiredOption('--data <source>', 'dataset path or registry name (see `reclab data`)')
    .option('--format <fmt>', 'reader format (auto-detected by default)', 'auto')
    .requiredOption('--model <name>', 'registered model, e.g. pop, ease, itemknn, sasrec')
    .requiredOption('--out <dir>', 'output directory of the servable model')
    .argument('[overrides...]', 'hyperparameters as --key=value (dotted keys, YAML values), e.g. --maxLen=200 --lr=0.001')
    .option('--seed <n>', 'random seed', (v) => Number(v), 42)
    .allowUnknownOption(true)
    .action(async (overrides: string[], o: { data: string; format: string; model: string; out: string; seed: number }) => {
      const config = overridesToConfig(splitOverrides(overrides));
      modelEntry(o.model); // unknown names fail before the data is read
      if (!Number.isInteger(o.seed)) throw new Error(`--seed: expected an integer`);
      const data = await loadDataset({ source: o.data, format: o.format }, {}, { progress: true });
      process.stderr.write(`${data.name}: ${data.userIds.size} users, ${data.itemIds.size} items, ${data.items.length} events\n`);
      const report = await trainBundle(data, { model: o.model, config, seed: o.seed, out: o.out, progress: true });
      process.stderr.write(`trained ${o.model} in ${report.seconds.toFixed(1)} s → ${o.out}\n`);
    });
}
