/**
 * Resumable training (resume.ts) for the four engine-trained sequential models. The independent
 * check is the uninterrupted run: 4 epochs straight must equal 2 epochs, a checkpoint, and a NEW
 * model resuming to 4 — bit for bit (weights, Adam moments and step, scores, losses). Every
 * config uses dropout (so the Rng is drawn inside steps), one thread (so the comparison does not
 * depend on the machine) and, where there is one, an lr warm-up that ends inside the resumed
 * epochs (so a lost schedule step counter would show).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../data/synthetic.ts';
import type { Interactions } from '../../data/types.ts';
import { BERT4Rec } from '../bert4rec.ts';
import { GRU4Rec } from '../gru4rec.ts';
import { HSTU } from '../hstu.ts';
import type { FitOptions, SequentialRecommender } from '../recommender.ts';
import { loadModel } from '../registry.ts';
import { SASRec } from '../sasrec.ts';
import type { EngineNetwork } from './network-state.ts';
import { readTrainingState } from './resume.ts';

const data: Interactions = generateSynthetic({ users: 60, items: 40, interactions: 700, seed: 3 });
const root = mkdtempSync(join(tmpdir(), 'resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => join(root, `ckpt-${dirCount++}`);

type Model = SequentialRecommender & { network: EngineNetwork };
interface Case {
  name: string;
  make: (config: Record<string, unknown>) => Model;
  config: Record<string, unknown>;
}

const cases: Case[] = [
  {
    name: 'sasrec',
    make: (c) => new SASRec(c),
    config: { hidden: 8, blocks: 1, heads: 1, maxLen: 10, dropout: 0.2, batchSize: 16, stepsPerEpoch: 3, warmupSteps: 8, negatives: 2, threads: 1 },
  },
  {
    name: 'bert4rec',
    make: (c) => new BERT4Rec(c),
    config: { hidden: 8, blocks: 1, heads: 2, ffn: 16, maxLen: 10, dropout: 0.2, maskProb: 0.3, batchSize: 16, stepsPerEpoch: 3, warmupSteps: 8, threads: 1 },
  },
  {
    name: 'hstu',
    make: (c) => new HSTU(c),
    config: { hidden: 8, blocks: 1, heads: 1, dqk: 8, dv: 8, maxLen: 10, dropout: 0.2, batchSize: 16, stepsPerEpoch: 3, negatives: 8, warmupSteps: 8, threads: 1 },
  },
  {
    name: 'gru4rec',
    make: (c) => new GRU4Rec(c),
    config: { hidden: 8, batchSize: 8, negatives: 16, dropoutEmbed: 0.1, dropoutHidden: 0.1, maxLen: 20, threads: 1 },
  },
];

const users = Int32Array.from([0, 1, 17, 59]);
function scores(m: Model): Float32Array {
  const out = new Float32Array(users.length * m.nItems);
  m.scoreUsers(users, data, out);
  return out;
}

/** Weights and both Adam moments of every parameter, plus Adam's step count, must be equal bit for bit. */
function expectSameTrainingState(a: Model, b: Model): void {
  const pa = a.network.params.list, pb = b.network.params.list;
  expect(pb.map((p) => p.name)).toEqual(pa.map((p) => p.name));
  pa.forEach((p, i) => {
    for (const k of ['data', 'm', 'v'] as const) {
      expect(Buffer.from(pb[i][k].a.slice().buffer).equals(Buffer.from(p[k].a.slice().buffer)), `${p.name}.${k}`).toBe(true);
    }
  });
  expect(b.network.adam.t).toBe(a.network.adam.t);
}

const opts = (extra: Partial<FitOptions> = {}): FitOptions => ({ seed: 5, progress: false, ...extra });

describe.each(cases)('resumable training: $name', ({ make, config }) => {
  it('4 epochs straight = 2 epochs + checkpoint + a new model resumed to 4, bit for bit', async () => {
    const straight = make({ ...config, epochs: 4 });
    const r0 = await straight.fit(data, opts());
    const dir = freshDir();
    const r1 = await make({ ...config, epochs: 2 }).fit(data, opts({ checkpoint: { dir } }));
    expect(r1.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect((await readTrainingState(dir))!.epoch).toBe(2);
    const resumed = make({ ...config, epochs: 4 });
    const seen: number[] = [];
    const r2 = await resumed.fit(data, opts({ checkpoint: { dir }, onEpoch: (e) => void seen.push(e.epoch) }));
    expect(seen).toEqual([3, 4]); // epochs of the checkpoint are not trained or reported again
    expect(r2.epochs).toBe(4);
    expect(r2.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(r2.history.map((h) => h.loss)).toEqual(r0.history.map((h) => h.loss));
    expectSameTrainingState(straight, resumed);
    expect(Array.from(scores(resumed))).toEqual(Array.from(scores(straight)));
    // the last state (epoch 4) was written too, and the directory is a loadable model
    expect((await readTrainingState(dir))!.epoch).toBe(4);
    const loaded = (await loadModel(dir)) as Model;
    expect(Array.from(scores(loaded))).toEqual(Array.from(scores(straight)));
  });
});

describe('resumable training: checkpoints, kills and refusals', () => {
  const { make, config } = cases[0];

  it('a run killed after an epoch was reported but before it was saved redoes it identically; every: 2 saves even epochs and the last', async () => {
    const straight = make({ ...config, epochs: 5 });
    await straight.fit(data, opts());
    const dir = freshDir();
    // onEpoch runs before the save, so throwing there at epoch 3 is a kill between the two
    await expect(make({ ...config, epochs: 5 }).fit(data, opts({
      checkpoint: { dir, every: 2 },
      onEpoch: (e) => {
        if (e.epoch === 3) throw new Error('killed');
      },
    }))).rejects.toThrow('killed');
    expect((await readTrainingState(dir))!.epoch).toBe(2);
    const resumed = make({ ...config, epochs: 5 });
    const seen: number[] = [];
    await resumed.fit(data, opts({ checkpoint: { dir, every: 2 }, onEpoch: (e) => void seen.push(e.epoch) }));
    expect(seen).toEqual([3, 4, 5]);
    expect((await readTrainingState(dir))!.epoch).toBe(5); // not a multiple of 2, but the last epoch
    expectSameTrainingState(straight, resumed);
  });

  it('finishes a save interrupted between its two renames, and drops a half-written one', async () => {
    const dir = freshDir();
    await make({ ...config, epochs: 2 }).fit(data, opts({ checkpoint: { dir } }));
    const older = freshDir();
    await make({ ...config, epochs: 1 }).fit(data, opts({ checkpoint: { dir: older } }));
    // the moment after `dir` → `dir.old-<pid>` and before `dir.tmp-<pid>` → `dir`: the tmp is the new state
    renameSync(dir, `${dir}.tmp-4242`);
    renameSync(older, `${dir}.old-4242`);
    expect((await readTrainingState(dir))!.epoch).toBe(2);
    // a save killed while writing its tmp: `dir` is intact and the junk goes away
    mkdirSync(`${dir}.tmp-77`);
    writeFileSync(join(`${dir}.tmp-77`, 'training.json'), '{"half');
    expect((await readTrainingState(dir))!.epoch).toBe(2);
    const name = dir.split('/').at(-1)!;
    expect(readdirSync(root).filter((n) => n.startsWith(`${name}.`))).toEqual([]);
  });

  it('refuses a checkpoint of another model, config, catalogue or seed, naming the file and the key', async () => {
    const dir = freshDir();
    await make({ ...config, epochs: 1 }).fit(data, opts({ checkpoint: { dir } }));
    const file = join(dir, 'training.json');
    await expect(cases[1].make({ ...cases[1].config, epochs: 2 }).fit(data, opts({ checkpoint: { dir } })))
      .rejects.toThrow(`${file}: checkpoint of a "sasrec" model, cannot resume bert4rec`);
    await expect(make({ ...config, hidden: 12, epochs: 2 }).fit(data, opts({ checkpoint: { dir } })))
      .rejects.toThrow(`${file}: checkpoint has sasrec config hidden = 8, this run 12`);
    await expect(make({ ...config, dropout: 0.1, epochs: 2 }).fit(data, opts({ checkpoint: { dir } })))
      .rejects.toThrow(/config dropout = 0\.2, this run 0\.1/);
    const other = generateSynthetic({ users: 60, items: 50, interactions: 700, seed: 3 });
    await expect(make({ ...config, epochs: 2 }).fit(other, opts({ checkpoint: { dir } })))
      .rejects.toThrow(`${file}: checkpoint has nItems = ${data.nItems}, the training data ${other.nItems}`);
    await expect(make({ ...config, epochs: 2 }).fit(data, opts({ seed: 6, checkpoint: { dir } })))
      .rejects.toThrow(`${file}: checkpoint has seed = 5, this run 6`);
    // the refused fits left the checkpoint as it was
    expect((await readTrainingState(dir))!.epoch).toBe(1);
  });

  it('reads a key an older checkpoint lacks as its default: resumes at the default, refuses another value', async () => {
    const dir = freshDir();
    await make({ ...config, epochs: 1 }).fit(data, opts({ checkpoint: { dir } }));
    // rewrite the state as a checkpoint from before the item-knowledge keys existed
    const file = join(dir, 'training.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
    delete state.config.knowledgeDim;
    delete state.config.knowledgeExperts;
    writeFileSync(file, `${JSON.stringify(state)}\n`);
    await expect(make({ ...config, knowledgeExperts: 5, epochs: 2 }).fit(data, opts({ checkpoint: { dir } })))
      .rejects.toThrow(`${file}: checkpoint has sasrec config knowledgeExperts = 3, this run 5`);
    await make({ ...config, epochs: 2 }).fit(data, opts({ checkpoint: { dir } }));
    expect((await readTrainingState(dir))!.epoch).toBe(2);
  });

  it('never overwrites a directory that is not a training checkpoint (e.g. a saved model)', async () => {
    const dir = freshDir();
    const m = make({ ...config, epochs: 1 });
    await m.fit(data, opts());
    await m.save(dir);
    await expect(make({ ...config, epochs: 1 }).fit(data, opts({ checkpoint: { dir } }))).rejects.toThrow(/not a training checkpoint/);
    expect(existsSync(join(dir, 'training.json'))).toBe(false);
    await expect(make({ ...config, epochs: 1 }).fit(data, opts({ checkpoint: { dir: freshDir(), every: 0 } }))).rejects.toThrow(/every must be a positive integer/);
  });
});
