/**
 * `reclab bench <config.yaml> [--key=value …]`: runs an experiment (several models, one dataset,
 * one protocol), prints the comparison table and saves everything under `runs/` (see docs/eval.md).
 */
import type { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadExperiment } from '../../eval/config.ts';
import { formatResultTable, runExperiment } from '../../eval/runner.ts';

/** Registers `reclab bench`. */
export function register(program: Command): void {
  program
    .command('bench')
    .description('run an experiment config: train, early-stop, evaluate, compare with a baseline; print and save the table')
    .argument('<config>', 'experiment YAML (see examples/)')
    .argument('[overrides...]', 'overrides as --key=value (dotted keys, YAML values), e.g. --seeds=[0,1] --models.1.grid.k=[50,100]')
    .option('--no-progress', 'no progress bars')
    .allowUnknownOption(true)
    .helpOption('-h, --help')
    .action(async (configPath: string, overrides: string[], o: { progress: boolean }) => {
      const extra = overrides.filter((a) => a.startsWith('--') && a.includes('='));
      const stray = overrides.filter((a) => !extra.includes(a));
      if (stray.length) throw new Error(`unexpected argument(s) ${stray.join(' ')}: overrides look like --key=value`);
      const path = resolve(configPath);
      const config = loadExperiment(path, extra);
      const { dir, table } = await runExperiment(config, { baseDir: dirname(path), progress: o.progress ? undefined : false });
      process.stdout.write(`\n${formatResultTable(table)}`);
      if (dir) process.stdout.write(`\nsaved: ${dir}/ (${readdirSync(dir).join(', ')})\n`);
    });
}
