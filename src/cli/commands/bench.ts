/**
 * `reclab bench <config.yaml> [--key=value …]`: the grid/table runner — runs an experiment
 * (several models, grid, seeds, early stopping on validation, one dataset, one protocol), prints
 * the comparison table and saves everything under `runs/` (see docs/eval.md). `reclab run` takes
 * the same files for long runs with a per-epoch trace, checkpoints and resume.
 */
import type { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadExperiment } from '../../eval/config.ts';
import { formatResultTable, runExperiment } from '../../experiment/runner.ts';
import { splitOverrides } from './overrides.ts';

/** Registers `reclab bench`. */
export function register(program: Command): void {
  program
    .command('bench')
    .description('the grid/table runner: train an experiment config (grid, seeds, early stopping on validation), evaluate, compare with a baseline; print and save the table')
    .argument('<config>', 'experiment YAML (see examples/)')
    .argument('[overrides...]', 'overrides as --key=value (dotted keys, YAML values), e.g. --seeds=[0,1] --models.1.grid.k=[50,100]')
    .option('--no-progress', 'no progress bars')
    .allowUnknownOption(true)
    .helpOption('-h, --help')
    .action(async (configPath: string, overrides: string[], o: { progress: boolean }) => {
      const path = resolve(configPath);
      const config = loadExperiment(path, splitOverrides(overrides));
      const { dir, table } = await runExperiment(config, { baseDir: dirname(path), progress: o.progress ? undefined : false });
      process.stdout.write(`\n${formatResultTable(table)}`);
      if (dir) process.stdout.write(`\nsaved: ${dir}/ (${readdirSync(dir).join(', ')})\n`);
    });
}
