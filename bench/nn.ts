/**
 * `npm run bench -- nn [--only matmul|sasrec|hstu|fit|quality] [--steps N] [--rounds R] [--threads N] [--no-peer] [--svg out.svg]`
 *
 * The numerical engine's figures:
 *  - matmul GFLOP/s for 1024×256·256×256 and 25600×50·50×50 (the SASRec projection shape),
 *    on one thread (the kernel) and on all threads (rows split across workers);
 *  - ms per SASRec training step (forward + backward + Adam; batch building not timed, as in
 *    the peer) on ML-1M (maxlen 200) and Beauty (maxlen 50), batch 128, hidden 50, 2 blocks,
 *    1 head, BCE + 1 negative, with batches sampled from the real files;
 *  - the same step in PyTorch (../shared/peers/sasrec_torch.py, 1 thread = its fastest here)
 *    measured in the same invocation, alternating with ours for `--rounds` rounds (default 2:
 *    ours, PyTorch, ours, PyTorch) so both see the same machine load; medians over all timed
 *    steps; `ratio_vs_pytorch` = our median / PyTorch's median;
 *  - `hstu-ml-1m` and `sasrec-ss-ml-1m`: ms per step of HSTU and of SASRec with the same loss
 *    (sampled softmax, 128 negatives) on identical ML-1M batches (all ratings, maxlen 200),
 *    alternating step by step; `ratio_vs_sasrec_ss` = HSTU / SASRec;
 *  - `sasrec-ml-1m-fit`: one epoch of SASRec.fit on ML-1M through the Recommender interface (in a
 *    child process, so its peak RSS is the training run's own), then full-ranking scores for
 *    every user: sec_per_epoch, score_all_users_s, peak_rss_mb.
 *  - `--only quality` (opt-in, minutes): SASRec trained 20 epochs on ML-1M and evaluated like the
 *    paper (last item held out, input = all earlier items, the true item ranked among 100 random
 *    items the user never interacted with): hr@10 and ndcg@10, next to the reference
 *    implementation's figures after 20 epochs (0.779 / 0.525, ../shared/peers/README.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { SHARED, emit, median } from './_util.ts';
import { Engine, type Program } from '../src/kernels/engine.ts';
import { Rng } from '../src/nn/rng.ts';
import { SASRec, SASRecNet, parseSASRecConfig } from '../src/models/sasrec.ts';
import { HSTUNet, parseHSTUConfig } from '../src/models/hstu.ts';
import { BatchSampler } from '../src/models/seq/batch.ts';
import type { Interactions } from '../src/data/types.ts';
import { barChart } from '../src/util/plot.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = opt('only');
const steps = Number(opt('steps') ?? 20);
const threads = Number(opt('threads') ?? availableParallelism());
const withPeer = !argv.includes('--no-peer');
const rounds = Math.max(1, Number(opt('rounds') ?? 2));
const svgPath = opt('svg');
/** SASRec step times for the optional SVG bar chart: [case, ours, pytorch]. */
const chartRows: [string, number, number][] = [];

function gflopsOf(M: number, N: number, K: number, t: number[]): number {
  return (2 * M * N * K) / median(t) / 1e9;
}

/** matmul C = A·B on `th` threads (rows of A split evenly). */
function benchMatmul(M: number, N: number, K: number, th: number): number {
  const eng = new Engine({ threads: th });
  const rng = new Rng(1);
  const A = eng.f32(M * K), B = eng.f32(K * N), C = eng.f32(M * N);
  for (let i = 0; i < A.length; i++) A.a[i] = rng.next() - 0.5;
  for (let i = 0; i < B.length; i++) B.a[i] = rng.next() - 0.5;
  const programs: Program[] = [];
  const rows = Math.ceil(M / th / 4) * 4;
  for (let w = 0; w < th; w++) {
    const r0 = w * rows;
    const m = Math.min(rows, M - r0);
    if (m <= 0) break;
    const p = eng.program();
    p.call('gemm', C.ptr + 4 * r0 * N, A.ptr + 4 * r0 * K, B.ptr, m, N, K, K, N, N, 0, 0, 0, 1);
    programs.push(p);
  }
  const reps = Math.max(1, Math.round(0.05e9 / (2 * M * N * K) * 10));
  const times: number[] = [];
  for (let r = 0; r < 3; r++) eng.runParallel(programs); // warm-up
  for (let r = 0; r < 15; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) eng.runParallel(programs);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9 / reps);
  }
  void eng.close();
  return gflopsOf(M, N, K, times);
}

/** Reads a SASRec-format file ("user item" lines, 1-based) like the peer: users with > 3 events, last two held out. */
function readPeerData(path: string): Interactions {
  const seqs = new Map<number, number[]>();
  let nItems = 0;
  const text = readFileSync(path, 'utf8');
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const parts = raw.trim().split(/\s+/);
    if (parts.length < 2 || parts[0] === '') continue;
    const u = Number(parts[0]);
    let s = seqs.get(u);
    if (!s) seqs.set(u, (s = []));
    for (const p of parts.slice(1)) {
      const it = Number(p);
      if (!Number.isInteger(it) || it < 1) throw new Error(`${path}:${line}: item "${p}" is not a positive integer`);
      s.push(it - 1);
      nItems = Math.max(nItems, it);
    }
  }
  const train = [...seqs.values()].filter((s) => s.length > 3).map((s) => s.slice(0, -2));
  const offsets = new Int32Array(train.length + 1);
  train.forEach((s, i) => (offsets[i + 1] = offsets[i] + s.length));
  const items = new Int32Array(offsets[train.length]);
  train.forEach((s, i) => items.set(s, offsets[i]));
  return { nUsers: train.length, nItems, offsets, items, times: new Float64Array(items.length) };
}

function benchSasrec(caseName: string, file: string, maxLen: number): void {
  const path = join(SHARED, 'datasets', file);
  if (!existsSync(path)) {
    process.stderr.write(`[skip] ${path} not found\n`);
    return;
  }
  const data = readPeerData(path);
  const cfg = parseSASRecConfig({ hidden: 50, blocks: 2, heads: 1, maxLen, dropout: 0.2, batchSize: 128, threads });
  const net = new SASRecNet(cfg, data.nItems);
  const rng = new Rng(42);
  net.init(rng.fork());
  const sampler = new BatchSampler(data, maxLen);
  const ours: number[] = [];
  const theirs: number[] = [];
  let loss = 0;
  let peerLoss: number | null = null;
  let tokens = 0;
  let peerFailed = false;
  for (let round = 0; round < rounds; round++) {
    const warmup = round === 0 ? 3 : 1;
    for (let s = 0; s < warmup + steps; s++) {
      const batch = sampler.sample(128, 1, rng); // not timed (the peer does not time batch building either)
      const t0 = process.hrtime.bigint();
      loss = net.trainStep(batch, 1e-3, rng);
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      if (s >= warmup) {
        ours.push(dt);
        tokens += batch.off[batch.off.length - 1];
      }
    }
    if (withPeer && !peerFailed) {
      const peer = spawnSync('/usr/bin/python3', [join(SHARED, 'peers', 'sasrec_torch.py'), '--data', path, '--maxlen', String(maxLen),
        '--steps', String(steps), '--threads', '1', '--seed', String(42 + round)], { encoding: 'utf8' });
      const lastLine = peer.stdout.trim().split('\n').at(-1) ?? '';
      try {
        const r = JSON.parse(lastLine) as { ms_per_step: number; final_loss: number };
        // the peer prints only its median: weight it like `steps` samples
        for (let i = 0; i < steps; i++) theirs.push(r.ms_per_step);
        peerLoss = r.final_loss;
      } catch {
        peerFailed = true;
        process.stderr.write(`peer failed (run "bash ../shared/peers/setup.sh" as root): ${peer.stderr.slice(-500)}\n`);
      }
    }
  }
  const ms = median(ours);
  const figures: Record<string, unknown> = {
    ms_per_step: Number(ms.toFixed(2)),
    threads: net.threads,
    steps: ours.length,
    rounds,
    real_tokens_per_step: Math.round(tokens / ours.length),
    padded_tokens_per_step: 128 * maxLen,
    final_loss: Number(loss.toFixed(4)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  if (theirs.length > 0) {
    figures.pytorch_ms_per_step = Number(median(theirs).toFixed(2));
    figures.pytorch_threads = 1;
    figures.pytorch_final_loss = peerLoss;
    figures.ratio_vs_pytorch = Number((ms / median(theirs)).toFixed(3));
    chartRows.push([caseName, ms, median(theirs)]);
  }
  emit('nn', caseName, figures);
}

/**
 * HSTU against SASRec with the same loss, shape and batches (the HSTU repo's ML-1M setting: all
 * ratings, batch 128, maxlen 200, d 50, 2 blocks, 1 head, sampled softmax with 128 negatives,
 * τ 0.05, dropout 0.2): the two step in alternation on identical batches, so machine load hits both
 * alike. An HSTU block has no feed-forward network; its step should not cost more than SASRec's.
 */
function benchHstuVsSasrec(): void {
  const path = join(SHARED, 'datasets', 'ml-1m-all/ml-1m-all.txt');
  if (!existsSync(path)) {
    process.stderr.write(`[skip] ${path} not found\n`);
    return;
  }
  const data = readPeerData(path);
  const maxLen = 200, nNeg = 128;
  const shape = { hidden: 50, blocks: 2, heads: 1, maxLen, dropout: 0.2, batchSize: 128, negatives: nNeg, temperature: 0.05, threads };
  const hstu = new HSTUNet(parseHSTUConfig({ ...shape, dqk: 50, dv: 50 }), data.nItems);
  const sasrec = new SASRecNet(parseSASRecConfig({ ...shape, loss: 'sampled-softmax' }), data.nItems);
  const rng = new Rng(42);
  hstu.init(rng.fork());
  sasrec.init(rng.fork());
  const sampler = new BatchSampler(data, maxLen);
  const times = { hstu: [] as number[], sasrec: [] as number[] };
  const losses = { hstu: 0, sasrec: 0 };
  let tokens = 0;
  const warmup = 3;
  for (let s = 0; s < warmup + steps * rounds; s++) {
    const batch = sampler.sample(128, nNeg, rng); // not timed
    for (const [name, net] of [['hstu', hstu], ['sasrec', sasrec]] as const) {
      const t0 = process.hrtime.bigint();
      losses[name] = net.trainStep(batch, 1e-3, rng);
      if (s >= warmup) times[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    if (s >= warmup) tokens += batch.off[batch.off.length - 1];
  }
  const common = { threads: hstu.threads, steps: times.hstu.length, real_tokens_per_step: Math.round(tokens / times.hstu.length), negatives: nNeg, data: 'ml-1m-all' };
  const hs = median(times.hstu), ss = median(times.sasrec);
  emit('nn', 'sasrec-ss-ml-1m', { ms_per_step: Number(ss.toFixed(2)), ...common, final_loss: Number(losses.sasrec.toFixed(4)) });
  emit('nn', 'hstu-ml-1m', { ms_per_step: Number(hs.toFixed(2)), ...common, final_loss: Number(losses.hstu.toFixed(4)), ratio_vs_sasrec_ss: Number((hs / ss).toFixed(3)) });
}

/** One epoch of SASRec.fit on ML-1M plus full-ranking scores for every user (run in a child process). */
async function benchFit(): Promise<void> {
  const path = join(SHARED, 'datasets', 'ml-1m/ml-1m.txt');
  if (!existsSync(path)) {
    process.stderr.write(`[skip] ${path} not found\n`);
    return;
  }
  const data = readPeerData(path);
  const model = new SASRec({ maxLen: 200, epochs: 1, threads });
  const report = await model.fit(data, { seed: 1, progress: false });
  const users = Int32Array.from({ length: data.nUsers }, (_, u) => u);
  const out = new Float32Array(users.length * data.nItems);
  const t0 = process.hrtime.bigint();
  model.scoreUsers(users, data, out);
  const scoreS = Number(process.hrtime.bigint() - t0) / 1e9;
  emit('nn', 'sasrec-ml-1m-fit', {
    sec_per_epoch: Number(report.seconds.toFixed(2)),
    epoch_loss: Number(report.history[0].loss.toFixed(4)),
    score_all_users_s: Number(scoreS.toFixed(3)),
    users: users.length,
    threads: model.network.threads,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  });
}

/** The paper's protocol on ML-1M: 20 epochs, test on the last item against 100 sampled negatives. */
async function benchQuality(): Promise<void> {
  const path = join(SHARED, 'datasets', 'ml-1m/ml-1m.txt');
  if (!existsSync(path)) {
    process.stderr.write(`[skip] ${path} not found\n`);
    return;
  }
  const epochs = Number(opt('epochs') ?? 20);
  const train = readPeerData(path); // s[:-2]
  // the full sequences again, for the held-out items (valid = s[-2], test = s[-1])
  const full = new Map<number, number[]>();
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const [u, it] = raw.trim().split(/\s+/).map(Number);
    if (Number.isInteger(u) && Number.isInteger(it)) {
      let s = full.get(u);
      if (!s) full.set(u, (s = []));
      s.push(it - 1);
    }
  }
  const seqs = [...full.values()].filter((s) => s.length > 3);
  const model = new SASRec({ maxLen: 200, epochs, threads });
  const report = await model.fit(train, { seed: 42, progress: process.stderr.isTTY });
  const rng = new Rng(7);
  const out = new Float32Array(train.nItems);
  let hr = 0;
  let ndcg = 0;
  for (const s of seqs) {
    const history = Int32Array.from(s.slice(0, -1));
    const target = s[s.length - 1];
    model.scoreSequence(history, out);
    const seen = new Set(s);
    let rank = 0;
    for (let k = 0; k < 100; k++) {
      let neg = rng.int(train.nItems);
      while (seen.has(neg)) neg = rng.int(train.nItems);
      if (out[neg] > out[target]) rank++;
    }
    if (rank < 10) {
      hr++;
      ndcg += 1 / Math.log2(rank + 2);
    }
  }
  emit('nn', 'sasrec-ml-1m-quality', {
    epochs: report.epochs,
    'hr@10': Number((hr / seqs.length).toFixed(4)),
    'ndcg@10': Number((ndcg / seqs.length).toFixed(4)),
    reference_hr10_20ep: 0.779,
    reference_ndcg10_20ep: 0.525,
    train_s: Number(report.seconds.toFixed(1)),
    final_loss: Number(report.history.at(-1)!.loss.toFixed(4)),
    candidates: 'uni100',
  });
}

if (!only || only === 'matmul') {
  for (const [M, N, K] of [[1024, 256, 256], [25600, 50, 50]]) {
    emit('nn', `matmul-${M}x${K}x${N}`, { gflops: Number(benchMatmul(M, N, K, 1).toFixed(2)), threads: 1 });
    if (threads > 1) emit('nn', `matmul-${M}x${K}x${N}`, { gflops: Number(benchMatmul(M, N, K, threads).toFixed(2)), threads });
  }
}
if (!only || only === 'sasrec') {
  benchSasrec('sasrec-ml-1m', 'ml-1m/ml-1m.txt', 200);
  benchSasrec('sasrec-beauty', 'beauty-bert4rec/beauty.txt', 50);
}
if (!only || only === 'hstu') benchHstuVsSasrec();
if (svgPath && chartRows.length > 0) {
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, barChart(chartRows.map(([c, a, b]) => ({ label: c, values: [a, b] })),
    [`reclab (${threads} threads)`, 'PyTorch 1.13 (1 thread)'], { title: 'SASRec training step (ms, lower is better)', yLabel: 'ms per step' }));
  process.stderr.write(`wrote ${svgPath}\n`);
}
if (only === 'fit') await benchFit();
if (only === 'quality') await benchQuality();
else if (!only) {
  // a fresh process, so peak RSS is the training run's alone
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'nn.ts'), '--only', 'fit', '--threads', String(threads)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(child.stdout);
}
process.exit(0); // engines keep idle (unref'd) workers and a large shared memory; leave promptly
