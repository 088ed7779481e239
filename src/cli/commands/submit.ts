/**
 * `reclab submit <file> --queue redis://…`: queues the file's jobs (src/jobs/plan.ts: a law sweep's
 * grid points, an experiment's model × grid point × seed runs, an evaluation, or a jobs file of
 * Arena / knowledge / retrain batches), follows them with a progress bar, and for a sweep with
 * `fit:` fits the law to the stored points when all are in. See docs/scale.md.
 */
import type { Command } from 'commander';
import { submitJobs, followJobs, DEFAULT_QUEUE } from '../../jobs/queue.ts';
import { planJobs } from '../../jobs/plan.ts';
import { openResults } from '../../jobs/results.ts';
import { storedSweepPoints } from '../../jobs/sweep.ts';
import { buildFitReport, writeFitReport } from '../../laws/report.ts';
import { recordToPoint } from '../../laws/records.ts';
import { splitOverrides } from './overrides.ts';

/** Registers `reclab submit`. */
export function register(program: Command): void {
  program
    .command('submit')
    .description('queue jobs for `reclab worker`s (a law sweep, an experiment, an evaluation, or a jobs file of arena/knowledge/retrain batches); follow them; fit a sweep\'s law from the stored points')
    .argument('<spec>', 'sweep YAML (examples/law-*.yaml), experiment YAML, or a jobs file (kind: …, jobs: […])')
    .argument('[overrides...]', 'overrides as --key=value (dotted keys, YAML values)')
    .requiredOption('--queue <url>', 'the queue: redis://host:port[/db]')
    .option('--queue-name <name>', 'queue name', DEFAULT_QUEUE)
    .option('--results <url>', 'results store the workers write (to fit from)', 'sqlite:reclab-jobs.db')
    .option('--attempts <n>', 'tries per job before it is listed as failed', '3')
    .option('--kind <kind>', 'job kind instead of the one the file\'s shape names (experiment files: experiment or evaluate)')
    .option('--recs <file>', '--kind evaluate: the recommendation lists to score')
    .option('--stage <stage>', '--kind evaluate: valid or test', 'test')
    .option('--no-wait', 'queue and return; follow later with `reclab jobs`')
    .allowUnknownOption(true)
    .action(async (file: string, overrides: string[], o: { queue: string; queueName: string; results: string; attempts: string; wait: boolean; kind?: string; recs?: string; stage: string }) => {
      const attempts = Number(o.attempts);
      if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`--attempts: expected a positive integer, got "${o.attempts}"`);
      if (o.stage !== 'valid' && o.stage !== 'test') throw new Error(`--stage: expected valid or test, got "${o.stage}"`);
      const plan = planJobs(file, splitOverrides(overrides), { kind: o.kind, recs: o.recs, stage: o.stage });
      const { jobs, sweep: spec } = plan;
      const ids = await submitJobs(o.queue, jobs, { queue: o.queueName, attempts });
      process.stderr.write(`reclab submit: ${ids.length} ${plan.kind} jobs queued on ${o.queueName}\n`);
      if (!o.wait) return;
      const followed = await followJobs(o.queue, ids.map((x) => x.id), { queue: o.queueName });
      for (const f of followed.failed) process.stderr.write(`  failed ${f.id}: ${f.error}\n`);
      const store = await openResults(o.results);
      try {
        if (!spec) {
          // Not a sweep: one line per job with its stored result, then the counts.
          let stored = 0;
          for (const [i, j] of jobs.entries()) {
            const r = await store.get(ids[i].key);
            if (r) stored++;
            process.stdout.write(`${JSON.stringify({ kind: j.kind, key: ids[i].key, stored: r !== undefined, result: r?.payload ?? null })}\n`);
          }
          process.stdout.write(`${JSON.stringify({ kind: plan.kind, jobs: jobs.length, stored, failed: followed.failed.length })}\n`);
          if (followed.failed.length > 0) process.exitCode = 1;
          return;
        }
        const points = await storedSweepPoints(store, spec);
        process.stdout.write(`${JSON.stringify({ points: jobs.length, stored: points.length, failed: followed.failed.length })}\n`);
        if (spec.fit && points.length === jobs.length) {
          const fitPoints = points.map((p, i) => recordToPoint(p, spec.fit!.metric, { file: o.results, line: i + 1 }));
          const report = buildFitReport(fitPoints, { metric: spec.fit.metric, source: `${o.results} (${o.queueName})`, loco: spec.fit.loco });
          for (const path of writeFitReport(report, spec.fit.outDir)) process.stderr.write(`  wrote ${path}\n`);
        }
      } finally {
        await store.close();
      }
      if (followed.failed.length > 0) process.exitCode = 1;
    });
}
