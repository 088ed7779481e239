/**
 * The tracer's checkpoint/resume mode on a tiny synthetic experiment. The independent check is
 * the uninterrupted trace: a trace stopped after 2 epochs and continued to 4 — once more with a
 * simulated kill between an epoch's evaluation and its checkpoint — must hold the same lines
 * (losses, validation and test metrics, best epoch) as a trace run straight to 4, once each.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainingState } from '../models/seq/resume.ts';
import { checkpointDir, parseTraceArgs, recoverTrace, trace, type TraceLine } from './trace.ts';
import { tinyExperiment } from './testutil.ts';

const root = mkdtempSync(join(tmpdir(), 'trace-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const experiment = (output: string): string => tinyExperiment(output, 3);

const linesOf = (output: string): TraceLine[] =>
  readFileSync(join(output, 'tiny.trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TraceLine);
/** What must not depend on interruptions (times do). */
const results = (ls: TraceLine[]): unknown[] => ls.map(({ epoch, loss, valid, test, best_valid_epoch, best_valid }) => ({ epoch, loss, valid, test, best_valid_epoch, best_valid }));

describe('trace: checkpoints and resume', () => {
  it('a trace continued from checkpoints (with a kill between an evaluation and its save) = the straight trace', async () => {
    const straight = join(root, 'straight');
    await trace(experiment(straight), []);
    const ref = linesOf(straight);
    expect(ref.map((l) => l.epoch)).toEqual([1, 2, 3, 4]);

    const out = join(root, 'resumed');
    const exp = experiment(out);
    const ckpt = checkpointDir(out, 'tiny', 'sasrec');
    await trace(exp, ['models.0.config.epochs=2'], { checkpointEvery: 1 });
    const at2 = join(root, 'ckpt-at-2');
    cpSync(ckpt, at2, { recursive: true });
    await trace(exp, ['models.0.config.epochs=3'], { checkpointEvery: 1 });
    // as if killed after epoch 3 was evaluated and before its checkpoint replaced epoch 2's
    rmSync(ckpt, { recursive: true });
    cpSync(at2, ckpt, { recursive: true });
    await trace(exp, ['models.0.config.epochs=4'], { resume: true });
    const got = linesOf(out);
    expect(results(got)).toEqual(results(ref));
    // the counters continue across sessions: training and wall seconds never go back
    for (let i = 1; i < got.length; i++) {
      expect(got[i].train_s).toBeGreaterThanOrEqual(got[i - 1].train_s);
      expect(got[i].wall_s).toBeGreaterThanOrEqual(got[i - 1].wall_s);
    }
    expect(existsSync(join(out, 'tiny-sasrec-loss.svg'))).toBe(true);
    // nothing left to do: a further resume adds no line
    await trace(exp, ['models.0.config.epochs=4'], { resume: true });
    expect(linesOf(out).length).toBe(4);

    // --evaluate scores the checkpoint as saved (epoch 4) exactly as the trace did, and writes nothing
    const before = readFileSync(join(out, 'tiny.trace.jsonl'), 'utf8');
    const [ev] = await trace(exp, [], { evaluate: true });
    expect({ epoch: ev.epoch, valid: ev.valid, test: ev.test }).toEqual({ epoch: 4, valid: ref[3].valid, test: ref[3].test });
    expect(readFileSync(join(out, 'tiny.trace.jsonl'), 'utf8')).toBe(before);
    // each test metric's interval brackets its mean and is no wider than the metric's range
    for (const [m, [lo, hi]] of Object.entries(ev.testCi95)) {
      expect(lo).toBeLessThanOrEqual(ev.test[m]);
      expect(hi).toBeGreaterThanOrEqual(ev.test[m]);
      expect(hi - lo).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(ev.testCi95).sort()).toEqual(Object.keys(ev.test).sort());
    // … under another protocol too (popularity counted on every event draws other negatives)
    const [all] = await trace(exp, ['protocol=pop100:all'], { evaluate: true });
    expect(all.protocol).toMatch(/pop100:all/);
    expect(all.test['hr@10']).toBeGreaterThan(0);
  });

  it('--evaluate needs a checkpoint', async () => {
    const out = join(root, 'no-ckpt');
    await expect(trace(experiment(out), [], { evaluate: true })).rejects.toThrow(/--evaluate: sasrec has no checkpoint in .*tiny-sasrec\.ckpt/);
  });

  it('--resume refuses to start from scratch', async () => {
    const out = join(root, 'empty');
    await expect(trace(experiment(out), [], { resume: true })).rejects.toThrow(/nothing to resume, no checkpoint in .*tiny-sasrec\.ckpt/);
  });

  it('separates its own flags from the experiment overrides', () => {
    expect(parseTraceArgs(['--checkpointEvery=5', '--models.0.config.epochs=300', '--resume', 'seeds=[1]'])).toEqual({
      overrides: ['models.0.config.epochs=300', 'seeds=[1]'],
      options: { checkpointEvery: 5, resume: true },
    });
    expect(parseTraceArgs(['--evaluate', '--protocol=pop100:all'])).toEqual({ overrides: ['protocol=pop100:all'], options: { evaluate: true } });
    expect(() => parseTraceArgs(['--checkpointEvery=0'])).toThrow(/positive integer, got "0"/);
  });

  it('recovers its counters from the last run of the model in the file and the checkpoint', () => {
    const line = (model: string, epoch: number, train_s: number, ndcg: number, best_valid_epoch: number, best_valid?: number): TraceLine => ({
      model, epoch, loss: 1 / epoch, train_s, wall_s: train_s + 100, valid: { 'ndcg@10': ndcg }, test: { 'ndcg@10': ndcg / 2 },
      best_valid_epoch, ...(best_valid === undefined ? {} : { best_valid }), protocol: 'p', data: 'd',
    });
    const lines = [
      line('m', 10, 10, 0.5, 10), line('m', 20, 20, 0.6, 20), line('m', 30, 30, 0.7, 30), // an earlier, separate run
      line('other', 10, 99, 0.9, 10),
      line('m', 10, 12, 0.3, 10, 0.31234), line('m', 20, 24, 0.2, 10, 0.31234),
    ];
    // checkpoint at epoch 25, 1.5 s per epoch: evalEvery 10 leaves epochs 21..25 out of the trace
    const history = Array.from({ length: 25 }, (_, i) => ({ epoch: i + 1, loss: 2, seconds: 1.5 }));
    const saved = { epoch: 25, history, seconds: 40 } as unknown as TrainingState;
    const r = recoverTrace(lines, 'm', saved, 'ndcg@10', true);
    expect(r.lastTraced).toBe(20);
    expect(r.trainS).toBeCloseTo(24 + 5 * 1.5, 10);
    expect(r.wallS).toBeCloseTo(124 + 5 * 1.5, 10); // the untraced epochs' training time is wall time too
    expect(r.bestEpoch).toBe(10);
    expect(r.best).toBe(0.31234); // the unrounded value, not the line's 0.3
    expect(r.curve.get(20)).toEqual({ loss: 1 / 20, valid: 0.2 });
    expect(r.curve.get(25)).toEqual({ loss: 2 });
    expect(r.curve.size).toBe(25);
    // old lines without best_valid: the best epoch's (rounded) metric
    const old = recoverTrace(lines.slice(0, 3), 'm', saved, 'ndcg@10', true);
    expect([old.lastTraced, old.best, old.bestEpoch, old.trainS]).toEqual([30, 0.7, 30, 30]);
  });
});
