/**
 * `npm run bench -- genret [--only beam|step] [--users N] [--steps N] [--ids file.json]`
 *
 * Generative retrieval (src/models/genret) figures:
 *  - `beam-ml-1m`: retrieval latency — beam search of width 20 for the top 10 over the ID trie,
 *    per user, on ML-1M (`ml-1m/ml-1m.txt`, leave-one-out, history = train + valid) with the
 *    default TIGER network (d 64, 2 + 2 blocks, 20 history items × 4 codes) and 3 × 256 + collision
 *    IDs (random IDs unless --ids gives a table for this data). The weights are freshly
 *    initialised: decoding cost does not depend on training (the beam always holds 20 prefixes).
 *    Users are scored as scoreUsers does: encoder + decoder memory rows for all users in one engine
 *    pass (memory_ms_per_user, amortised), then one beam search per user in JS (beam_p50_ms,
 *    beam_p99_ms); ms_per_user is their sum.
 *  - `step-beauty`: one training epoch on Beauty (`beauty-s3rec/Beauty.txt`, leave-one-out
 *    train part) — ms per TIGER step (batch 256, history 20 items) × steps per epoch (one pass
 *    over every training position), next to SASRec's (d 64, 2 blocks, maxlen 50, full-softmax CE,
 *    batch 128, ⌈users/128⌉ steps per epoch, the SASRec+ recipe): ms_per_step and s_per_epoch.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED, emit, median } from './_util.ts';
import { loadDataset } from '../src/data/load.ts';
import { splitDataset } from '../src/data/split.ts';
import { concatInteractions } from '../src/data/interactions.ts';
import { Tiger } from '../src/models/genret/tiger.ts';
import { loadIdTable, randomIds } from '../src/models/genret/ids.ts';
import { SASRecNet, parseSASRecConfig } from '../src/models/sasrec.ts';
import { BatchSampler } from '../src/models/seq/batch.ts';
import { Rng } from '../src/util/rng.ts';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const only = flag('only', '');

async function split(file: string): Promise<ReturnType<typeof splitDataset> | null> {
  const path = join(SHARED, 'datasets', file);
  if (!existsSync(path)) {
    process.stderr.write(`[skip] ${path} not found\n`);
    return null;
  }
  return splitDataset(await loadDataset({ source: path, format: 'sasrec' }, {}, { progress: false }), { kind: 'loo' });
}

async function beam(): Promise<void> {
  const s = await split('ml-1m/ml-1m.txt');
  if (!s) return;
  const n = s.dataset.nItems;
  const idsFile = flag('ids', '');
  const table = idsFile ? loadIdTable(idsFile) : randomIds(n, 3, 256, 0);
  const model = new Tiger({ ids: idsFile || 'random', epochs: 0, beam: 20 }, table);
  await model.fit(s.train, { seed: 0, progress: false });
  const history = concatInteractions(s.train, s.valid);
  const users = Math.min(Number(flag('users', '256')), history.nUsers);
  const hist = Array.from({ length: users }, (_, u) => history.items.subarray(history.offsets[u], history.offsets[u + 1]));
  // as scoreUsers does: the memories of all users in one engine pass, then one beam search per user in JS
  const t0 = performance.now();
  const mems = model.memoriesOf(hist.map((items, u) => model.encoderTokens(u, items)));
  const memoryMs = performance.now() - t0;
  const times: number[] = [];
  hist.forEach((items, u) => {
    const seen = new Set(items);
    const t1 = performance.now();
    model.retrieveFrom(mems[u], 10, 20, (i) => seen.has(i));
    times.push(performance.now() - t1);
  });
  const sorted = [...times].sort((a, b) => a - b);
  const beamMean = times.reduce((a, b) => a + b, 0) / times.length;
  emit('genret', 'beam-ml-1m', {
    beam: 20, k: 10, users, items: n, levels: table.levels, history_items: 20,
    ms_per_user: memoryMs / users + beamMean, memory_ms_per_user: memoryMs / users,
    beam_p50_ms: median(times), beam_p99_ms: sorted[Math.floor(0.99 * (sorted.length - 1))],
  });
}

async function step(): Promise<void> {
  const s = await split('beauty-s3rec/Beauty.txt');
  if (!s) return;
  const train = s.train;
  const steps = Number(flag('steps', '20'));
  const model = new Tiger({ ids: 'random', epochs: 0, batchSize: 256 }, randomIds(train.nItems, 3, 256, 0));
  await model.fit(train, { seed: 0, progress: false });
  let positions = 0;
  for (let u = 0; u < train.nUsers; u++) positions += Math.max(0, train.offsets[u + 1] - train.offsets[u] - 1);
  const rng = new Rng(1);
  const tigerMs: number[] = [];
  for (let t = 0; t < steps + 2; t++) {
    const users = new Int32Array(256), pos = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      let u: number;
      do u = rng.int(train.nUsers); while (train.offsets[u + 1] - train.offsets[u] < 2);
      users[b] = u;
      pos[b] = 1 + rng.int(train.offsets[u + 1] - train.offsets[u] - 1);
    }
    const batch = model.makeBatch(train, users, pos);
    const t0 = performance.now();
    model.network.trainStep(batch, 1e-3, rng);
    if (t >= 2) tigerMs.push(performance.now() - t0);
  }
  const tSteps = Math.ceil(positions / 256);
  emit('genret', 'step-beauty-tiger', { batch: 256, steps_per_epoch: tSteps, ms_per_step: median(tigerMs), s_per_epoch: (median(tigerMs) * tSteps) / 1000 });
  const cfg = parseSASRecConfig({ hidden: 64, blocks: 2, heads: 1, maxLen: 50, dropout: 0.1, loss: 'ce', batchSize: 128 });
  const net = new SASRecNet(cfg, train.nItems);
  net.init(rng.fork());
  const sampler = new BatchSampler(train, 50);
  const sasMs: number[] = [];
  for (let t = 0; t < steps + 2; t++) {
    const batch = sampler.sample(128, 0, rng);
    const t0 = performance.now();
    net.trainStep(batch, 1e-3, rng);
    if (t >= 2) sasMs.push(performance.now() - t0);
  }
  const sSteps = Math.ceil(sampler.users.length / 128);
  emit('genret', 'step-beauty-sasrec-ce', { batch: 128, steps_per_epoch: sSteps, ms_per_step: median(sasMs), s_per_epoch: (median(sasMs) * sSteps) / 1000 });
}

if (!only || only === 'beam') await beam();
if (!only || only === 'step') await step();
