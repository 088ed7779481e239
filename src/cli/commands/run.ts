/**
 * `reclab run <config.yaml> [--resume] [--checkpoint-every N] [--evaluate] [--key=value …]`: a
 * long run that leaves a trace — every `evalEvery` epochs one JSON line of validation and test
 * figures in `<output>/<name>.trace.jsonl` and redrawn curves — with checkpoints and exact resume
 * (src/experiment/trace.ts, docs/sequential.md). `reclab bench` runs the same experiment files to
 * a final comparison table instead.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isCtrDocument } from '../../experiment/ctr.ts';
import { splitOverrides } from './overrides.ts';

/** Registers `reclab run`. */
export function register(program: Command): void {
  program
    .command('run')
    .description('train an experiment config with a per-epoch trace (validation and test figures, curves), checkpoints and exact resume')
    .argument('<config>', 'experiment YAML (see examples/)')
    .argument('[overrides...]', 'overrides as --key=value (dotted keys, YAML values), e.g. --models.0.config.epochs=20')
    .option('--checkpoint-every <n>', 'save each model\'s training state every N epochs (and after the last) and resume from it when it exists')
    .option('--resume', 'continue from the checkpoints; fail when there is none (implies --checkpoint-every 1)')
    .option('--evaluate', 'train nothing: score each model\'s checkpoint and print one JSON line per model')
    .allowUnknownOption(true)
    .helpOption('-h, --help')
    .action(async (configPath: string, args: string[], o: { checkpointEvery?: string; resume?: boolean; evaluate?: boolean }) => {
      // `task: ctr` files run the CTR task (src/experiment/ctr.ts): click prediction, not ranking;
      // the ranking tracer is loaded only for ranking files
      if (isCtrDocument(parseYaml(readFileSync(configPath, 'utf8')))) {
        await (await import('./ctr.ts')).runCtrFile(configPath, splitOverrides(args).map((a) => `--${a}`));
        return;
      }
      const { parseTraceArgs, trace } = await import('../../experiment/trace.ts');
      // `--checkpointEvery=N` (the tracer's old spelling) is still taken, among the overrides
      const { overrides, options } = parseTraceArgs(splitOverrides(args).map((a) => `--${a}`));
      if (o.checkpointEvery !== undefined) {
        const n = Number(o.checkpointEvery);
        if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--checkpoint-every: expected a positive integer, got "${o.checkpointEvery}"`);
        options.checkpointEvery = n;
      }
      if (o.resume) options.resume = true;
      if (o.evaluate) options.evaluate = true;
      if (options.resume && options.evaluate) throw new Error('--resume and --evaluate exclude each other: --evaluate trains nothing');
      const results = await trace(configPath, overrides, options);
      for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
    });
}
