/**
 * `npm run bench -- genret [--only beam|step] [--users N] [--ref-users N] [--steps N] [--ids file.json]`
 *
 * Generative retrieval (src/models/genret) figures:
 *  - `beam-ml-1m`: retrieval latency — beam search of width 20 for the top 10 over the ID trie,
 *    per user, on ML-1M (`ml-1m/ml-1m.txt`, leave-one-out, history = train + valid) with the
 *    default TIGER network (d 64, 2 + 2 blocks, 20 history items × 4 codes) and 3 × 256 + collision
 *    IDs (random IDs unless --ids gives a table for this data). The weights are freshly
 *    initialised: decoding cost does not depend on training (the beam always holds 20 prefixes).
 *    Users are scored as scoreUsers does (after an untimed warm-up on 32 users): the encoder +
 *    decoder memory rows on the engine (memory_*), then the batched incremental beam search of
 *    ./src/models/genret/beam.ts for all users (beam_*); ms_per_user is their wall-time sum per
 *    user, cpu_ms_per_user the process's CPU time (process.cpuUsage, all threads) per user — the
 *    load-robust figure on a shared machine (load_avg_1m says how shared). single_user_*: one user
 *    at a time (an online request), p50/p99 over --ref-users users. reference_*: the scalar
 *    one-prefix-at-a-time search on the first --ref-users users (CPU per user, and how many of them
 *    got the same top 10 as the fast search).
 *  - `step-beauty`: one training epoch on Beauty (`beauty-s3rec/Beauty.txt`, leave-one-out
 *    train part) — ms per TIGER step (batch 256, history 20 items) × steps per epoch (one pass
 *    over every training position), next to SASRec's (d 64, 2 blocks, maxlen 50, full-softmax CE,
 *    batch 128, ⌈users/128⌉ steps per epoch, the SASRec+ recipe): ms_per_step and s_per_epoch.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
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

/** CPU milliseconds of this process so far (all threads: the engine's workers included). */
function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
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
  const refUsers = Math.min(Number(flag('ref-users', '32')), users);
  const hist = Array.from({ length: users }, (_, u) => history.items.subarray(history.offsets[u], history.offsets[u + 1]));
  const enc = hist.map((items, u) => model.encoderTokens(u, items));
  const exclude = hist.map((items) => {
    const seen = new Set(items);
    return (i: number): boolean => seen.has(i);
  });
  // warm-up (not timed): carves the engine workspace, makes the decoder's Wᵀ copies, JIT-compiles
  model.retrieveMany(model.memoriesOf(enc.slice(0, 32)), 10, 20, exclude.slice(0, 32));
  // as scoreUsers does: the memories of all users (engine passes of 32), then one batched beam search
  let w0 = performance.now(), c0 = cpuMs();
  const mems = model.memoriesOf(enc);
  const memWall = performance.now() - w0, memCpu = cpuMs() - c0;
  w0 = performance.now();
  c0 = cpuMs();
  const fast = model.retrieveMany(mems, 10, 20, exclude);
  const beamWall = performance.now() - w0, beamCpu = cpuMs() - c0;
  // one user at a time (an online request): memory pass + beam for that user alone
  const single: number[] = [], singleCpu: number[] = [];
  for (let u = 0; u < refUsers; u++) {
    const t0 = performance.now(), u0 = cpuMs();
    model.retrieveMany(model.memoriesOf([enc[u]]), 10, 20, [exclude[u]]);
    single.push(performance.now() - t0);
    singleCpu.push(cpuMs() - u0);
  }
  // the scalar reference (one prefix at a time in JS) on the first users: speed-up and agreement
  c0 = cpuMs();
  let same = 0;
  for (let u = 0; u < refUsers; u++) {
    const ref = model.retrieveFrom(mems[u], 10, 20, exclude[u]);
    if (ref.map((r) => r.item).join() === fast[u].map((r) => r.item).join()) same++;
  }
  const refCpu = (cpuMs() - c0) / refUsers;
  const sorted = [...single].sort((a, b) => a - b), sortedCpu = [...singleCpu].sort((a, b) => a - b);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  emit('genret', 'beam-ml-1m', {
    beam: 20, k: 10, users, items: n, levels: table.levels, history_items: 20, threads: model.network.threads,
    ms_per_user: r2((memWall + beamWall) / users), cpu_ms_per_user: r2((memCpu + beamCpu) / users),
    memory_ms_per_user: r2(memWall / users), memory_cpu_ms_per_user: r2(memCpu / users),
    beam_ms_per_user: r2(beamWall / users), beam_cpu_ms_per_user: r2(beamCpu / users),
    single_user_p50_ms: r2(median(single)), single_user_p99_ms: r2(sorted[Math.floor(0.99 * (sorted.length - 1))]),
    single_user_cpu_p50_ms: r2(median(singleCpu)), single_user_cpu_p99_ms: r2(sortedCpu[Math.floor(0.99 * (sortedCpu.length - 1))]),
    reference_beam_cpu_ms_per_user: r2(refCpu), reference_users: refUsers, reference_same_top10: same,
    load_avg_1m: r2(loadavg()[0]),
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
