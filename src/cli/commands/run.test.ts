/**
 * `reclab run` killed with SIGKILL mid-run and run again with `--resume` writes the same trace —
 * every figure: losses, validation and test metrics, best epoch, and the curves — as an
 * uninterrupted run of the same config (issue 17, must-show 1, on a tiny config). Only the
 * clocks (`train_s`, `wall_s`) may differ; they must still never go back.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trace, type TraceLine } from '../../experiment/trace.ts';
import { overridesToConfig, splitOverrides } from './overrides.ts';
import { tinyExperiment } from '../../experiment/testutil.ts';

const root = mkdtempSync(join(tmpdir(), 'reclab-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const BIN = new URL('../../../bin/reclab.js', import.meta.url).pathname;
const EPOCHS = 30;

const experiment = (output: string): string => tinyExperiment(output, 10);

const traceFile = (out: string): string => join(out, 'tiny.trace.jsonl');
const linesOf = (out: string): TraceLine[] => readFileSync(traceFile(out), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TraceLine);
/** Everything but the clocks. */
const figures = (ls: TraceLine[]): unknown[] => ls.map(({ train_s: _t, wall_s: _w, ...rest }) => rest);

/** Runs `reclab run` in a child; with `killAfter`, SIGKILLs it once the trace has that many lines. */
function reclabRun(args: string[], killAfter?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    if (killAfter !== undefined) {
      const file = traceFile(join(args[0], '..'));
      timer = setInterval(() => {
        if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length - 1 >= killAfter) child.kill('SIGKILL');
      }, 5);
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('reclab run: kill -9 and --resume', { timeout: 180_000 }, () => {
  it('a run killed mid-run and resumed writes the trace of an uninterrupted run, every figure', async () => {
    const straight = join(root, 'straight');
    await trace(experiment(straight), [`models.0.config.epochs=${EPOCHS}`]);
    const ref = linesOf(straight);
    expect(ref.map((l) => l.epoch)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));

    const out = join(root, 'killed');
    const exp = experiment(out);
    const killed = await reclabRun([exp, '--checkpoint-every', '1', `--models.0.config.epochs=${EPOCHS}`], 3);
    expect(killed.signal).toBe('SIGKILL');
    const partial = linesOf(out).length;
    expect(partial).toBeGreaterThanOrEqual(3);
    expect(partial).toBeLessThan(EPOCHS); // killed mid-run, not after the end
    const resumed = await reclabRun([exp, '--resume', `--models.0.config.epochs=${EPOCHS}`]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming from epoch \d+/);
    const got = linesOf(out);
    expect(figures(got)).toEqual(figures(ref));
    for (let i = 1; i < got.length; i++) {
      expect(got[i].train_s).toBeGreaterThanOrEqual(got[i - 1].train_s);
      expect(got[i].wall_s).toBeGreaterThanOrEqual(got[i - 1].wall_s);
    }
    // the curves are drawn from the same figures
    for (const svg of ['tiny-sasrec-loss.svg', 'tiny-sasrec-valid.svg']) expect(readFileSync(join(out, svg), 'utf8')).toBe(readFileSync(join(straight, svg), 'utf8'));
  });

  it('--resume with nothing to resume fails and says where it looked', async () => {
    const r = await reclabRun([experiment(join(root, 'empty')), '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing to resume, no checkpoint in .*tiny-sasrec\.ckpt/);
  });
});

describe('the override syntax', () => {
  it('takes --key=value (dotted keys) and names anything else', () => {
    expect(splitOverrides(['--models.0.config.epochs=20', '--seeds=[0,1]', '--protocol=pop100:all'])).toEqual(['models.0.config.epochs=20', 'seeds=[0,1]', 'protocol=pop100:all']);
    expect(() => splitOverrides(['--epochs', '20'])).toThrow(/unexpected argument\(s\) --epochs 20: overrides look like --key=value/);
    expect(() => splitOverrides(['epochs=20'])).toThrow(/unexpected argument\(s\) epochs=20/);
    // the old spelling of train and law sweep is read, with a note
    const notes: string[] = [];
    expect(splitOverrides(['--set', 'maxLen=200', '--set=grid.hidden=[16,32]', '--lr=0.001'], (l) => notes.push(l))).toEqual(['maxLen=200', 'grid.hidden=[16,32]', 'lr=0.001']);
    expect(notes).toEqual(['note: --set maxLen=200 is the old spelling of --maxLen=200', 'note: --set grid.hidden=[16,32] is the old spelling of --grid.hidden=[16,32]']);
    expect(() => splitOverrides(['--set', 'maxLen'], () => {})).toThrow(/unexpected argument\(s\) --set maxLen/);
    expect(overridesToConfig(['maxLen=200', 'loss=gbce', 'opt.betas=[0.9,0.98]'])).toEqual({ maxLen: 200, loss: 'gbce', opt: { betas: [0.9, 0.98] } });
  });
});
