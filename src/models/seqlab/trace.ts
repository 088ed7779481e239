/**
 * Long training runs that leave a trace: `node --import tsx src/models/seqlab/trace.ts <config.yaml> [--key=value …]`.
 *
 * Reads an experiment file in the runner's format (src/eval/config.ts) and trains its models one
 * after another on the config's split and protocol. Every `evalEvery` epochs it evaluates the
 * model on validation (history = train) **and** on test (history = train + valid, train + valid
 * excluded under `full`), and appends one JSON line per evaluation to
 * `<output>/<name>.trace.jsonl`, then redraws `<output>/<name>-loss.svg` and
 * `<output>/<name>-valid.svg`. Nothing waits for the end of the run, so a run stopped early
 * (session limit, Ctrl-C) still leaves every figure measured so far with its epoch and wall time.
 *
 * Why not `reclab bench`: the runner writes its result folder once, at the end, and selects the
 * epoch on validation — right for final claims, but a multi-hour run on a shared machine needs
 * the intermediate figures on disk. The test figures at intermediate epochs are a *trace*, not a
 * selection: the final claim is the row at the epoch chosen on validation (`best_valid_epoch`).
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { concatInteractions } from '../../data/interactions.ts';
import { loadDataset } from '../../data/load.ts';
import { splitDataset } from '../../data/split.ts';
import { loadExperiment } from '../../eval/config.ts';
import { evaluate, usersWithTargets, type EvalData } from '../../eval/evaluate.ts';
import { parseProtocol, sampleCandidates, type CandidateLists } from '../../eval/protocol.ts';
import { lineChart, type Series } from '../../util/plot.ts';
import { createModel } from '../registry.ts';

/** One line of the trace file. */
export interface TraceLine {
  model: string;
  epoch: number;
  /** Mean training loss of this epoch. */
  loss: number;
  /** Training seconds so far (evaluation excluded). */
  train_s: number;
  /** Wall seconds since the model was created (training + evaluations). */
  wall_s: number;
  valid: Record<string, number>;
  test: Record<string, number>;
  /** Epoch with the best validation `validMetric` so far. */
  best_valid_epoch: number;
  protocol: string;
  data: string;
}

/** Runs every model of the experiment file with per-evaluation tracing; see the file comment. */
export async function trace(path: string, overrides: readonly string[]): Promise<void> {
  const config = loadExperiment(path, overrides);
  const src = config.data.source;
  // paths are read from the working directory (as `reclab bench` does); `synthetic…` and registry names pass through
  const source = existsSync(resolve(src)) ? resolve(src) : src;
  const dataset = await loadDataset({ ...config.data, source }, config.prepare);
  const split = splitDataset(dataset, config.split);
  const { train, valid, test } = split;
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  log(`${dataset.name}: ${dataset.nUsers} users, ${dataset.nItems} items; ${split.protocol.description}; protocol ${config.protocol}`);
  const validData: EvalData = { history: train, exclude: [train], targets: valid, train, seen: [train, valid, test] };
  const testData: EvalData = { history: concatInteractions(train, valid), exclude: [train, valid], targets: test, train, seen: [train, valid, test] };
  const protocol = parseProtocol(config.protocol, config.seeds[0]);
  let validCands: CandidateLists | undefined;
  let testCands: CandidateLists | undefined;
  // loo with valid: false (the HSTU repository's split) has no validation targets: the trace then
  // records test only, and the final epoch is the reported one (nothing to select on)
  const hasValid = usersWithTargets(valid).length > 0;
  if (protocol.kind === 'sampled') {
    // the same draws as the runner makes for this config
    if (hasValid) validCands = sampleCandidates(protocol, usersWithTargets(valid), valid, [train, valid, test], train);
    testCands = sampleCandidates({ ...protocol, seed: protocol.seed + 1 }, usersWithTargets(test), test, [train, valid, test], train);
  }
  const validMetric = config.validMetric ?? config.metrics[0];
  const outDir = resolve(config.output);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${config.name}.trace.jsonl`);
  const common = { protocol, ties: config.ties, blockSize: config.blockSize, progress: false };
  for (const spec of config.models) {
    const label = spec.label ?? spec.name;
    const model = createModel(spec.name, spec.config);
    log(`${label}: ${JSON.stringify(model.config)}`);
    const t0 = performance.now();
    let trainS = 0;
    let best = -Infinity;
    let bestEpoch = 0;
    const curve: { epoch: number; loss: number; valid?: number }[] = [];
    let lastEvaluated = -1;
    const evalAt = async (rep: { epoch: number; loss: number }): Promise<number> => {
      lastEvaluated = rep.epoch;
      const v = hasValid ? await evaluate(model, validData, { ...common, metrics: config.metrics, candidates: validCands }) : { metrics: {} as Record<string, number> };
      const t = await evaluate(model, testData, { ...common, metrics: config.metrics, candidates: testCands });
      // without validation every evaluation is "best so far", so best_valid_epoch tracks the final epoch
      const value = hasValid ? v.metrics[validMetric] : rep.epoch;
      const lastPoint = curve.at(-1);
      // the metric curve: validation, or test when the split has no validation part
      if (lastPoint && lastPoint.epoch === rep.epoch) lastPoint.valid = hasValid ? value : t.metrics[validMetric];
      if (value > best) {
        best = value;
        bestEpoch = rep.epoch;
      }
      const line: TraceLine = {
        model: label, epoch: rep.epoch, loss: rep.loss, train_s: round(trainS), wall_s: round((performance.now() - t0) / 1000),
        valid: roundAll(v.metrics), test: roundAll(t.metrics), best_valid_epoch: bestEpoch,
        protocol: `${split.protocol.description}; ${config.protocol}; ties ${config.ties}`, data: config.data.source,
      };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
      log(`  ${hasValid ? `valid ${fmtAll(v.metrics)} | ` : ''}test ${fmtAll(t.metrics)}`);
      if (curve.length === 0) return value; // closed-form model: no curve to draw
      const loss: Series[] = [{ name: label, x: curve.map((c) => c.epoch), y: curve.map((c) => c.loss) }];
      const val = curve.filter((c) => c.valid !== undefined);
      const part = hasValid ? 'valid' : 'test';
      writeFileSync(join(outDir, `${config.name}-${label}-loss.svg`), lineChart(loss, { title: `${label} training loss`, xLabel: 'epoch', yLabel: 'loss' }));
      writeFileSync(join(outDir, `${config.name}-${label}-${part}.svg`), lineChart([{ name: label, x: val.map((c) => c.epoch), y: val.map((c) => c.valid!) }], {
        title: `${label} ${hasValid ? 'validation' : 'test (no validation split)'} ${validMetric}`, xLabel: 'epoch', yLabel: validMetric,
      }));
      return value;
    };
    const fit = await model.fit(train, {
      seed: config.seeds[0],
      progress: false,
      onEpoch: async (rep) => {
        trainS += rep.seconds;
        curve.push({ epoch: rep.epoch, loss: rep.loss });
        log(`${label} epoch ${rep.epoch}: loss ${rep.loss.toFixed(4)} (${rep.seconds.toFixed(1)} s)`);
        if (rep.epoch % config.evalEvery === 0) await evalAt(rep);
        return false;
      },
    });
    if (lastEvaluated !== fit.epochs) {
      // closed-form models (no epochs) and runs whose last epoch was not on the evalEvery grid
      if (fit.epochs === 0) trainS = fit.seconds;
      await evalAt({ epoch: fit.epochs, loss: fit.history.at(-1)?.loss ?? NaN });
    }
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function roundAll(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]));
}

function fmtAll(m: Record<string, number>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ');
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('seqlab/trace.ts')) {
  const [path, ...rest] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: node --import tsx src/models/seqlab/trace.ts <config.yaml> [key=value …]\n');
    process.exit(2);
  }
  trace(path, rest.map((a) => a.replace(/^--/, ''))).then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
