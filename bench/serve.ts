/**
 * Load on the recommendation service, measured with autocannon against a local `reclab serve`
 * child process (bounded: warm-ups by count, measured runs by time).
 *
 *   npm run bench -- serve [--model sasrec|ease|…] [--runs 3] [--seconds 10] [--connections 32] [--workers 1] [--epochs 3]
 *                         [--cases recommend,recommend_uncached,feedback] [--retrain-every 15s] [--feedback-users 10000]
 *
 * Cases (medians over --runs, after a warm-up):
 * - `recommend`: GET /api/recommend/{user} cycling over all ML-1M users, answer cache on (the default);
 * - `recommend_uncached`: the same with the cache off, so every request scores the model;
 * - `feedback`: POST /api/feedback, 100 events per request; events_per_s counts acknowledged
 *   events only, and after the server stops the store is opened and counted (durable = acked).
 *
 * The production loop runs during `recommend_uncached` and `feedback`: the server retrains on a
 * schedule (`--retrain-every`, default 10s; `0` = off; with `--retrain-tolerance 0.02`) from the
 * feedback it collects — before `recommend_uncached`, 5,000 events are posted so there is
 * something new (see seedFeedback); measured runs go on (up to --max-extra-runs more) until a
 * retrain has been swapped in during one of them — and
 * each case reports `retrains` (outcomes) and `swaps` that happened while it ran. Failed requests
 * (`errors`) include any during a swap.
 *
 * The model is trained once on ML-1M (SASRec when registered, else EASE) and kept under
 * $RECLAB_BENCH_DIR (default: <tmp>/reclab-bench-serve). Needs ../shared/datasets/ml-1m.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cannon, freePort } from './_http.ts';
import { emit, flag, hasShared, median, SHARED } from './_util.ts';
import { cpuMeter } from './serve-cpu.ts';
import { listModels } from '../src/models/registry.ts';
import { loadDataset } from '../src/data/load.ts';
import { trainBundle } from '../src/serve/train.ts';
import { SqliteStore } from '../src/serve/store-sqlite.ts';
import { isBundleDir } from '../src/serve/bundle.ts';

const modelName = flag('model', listModels().some((m) => m.name === 'sasrec') ? 'sasrec' : 'ease');
const runs = Number(flag('runs', '3'));
const seconds = Number(flag('seconds', '10'));
const connections = Number(flag('connections', '32'));
const workers = Number(flag('workers', '1'));
const cases = new Set(flag('cases', 'recommend,recommend_uncached,feedback').split(','));
const retrainEvery = flag('retrain-every', '10s');
/** Distinct users the feedback case writes for (round-robin): how spread its index inserts are. */
const feedbackUsers = Number(flag('feedback-users', '10000'));
/** Measured runs added (at most) until a scheduled retrain has been swapped in during the load. */
const maxExtraRuns = Number(flag('max-extra-runs', '12'));
const KEY = 'bench-key';
const auth = { 'x-api-key': KEY };
const root = resolve(process.env.RECLAB_BENCH_DIR ?? join(tmpdir(), 'reclab-bench-serve'));

if (!hasShared()) {
  process.stderr.write('bench serve: ../shared/datasets not found; skipping\n');
  process.exit(0);
}

/** Starts `reclab serve` and waits until /health/ready answers. */
async function startServer(models: string, db: string, cacheSize: number, retrain = false): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const args = ['bin/reclab.js', 'serve', '--models', models, '--db', db, '--port', String(port), '--rate-limit', '0', '--workers', String(workers), '--cache-size', String(cacheSize), '--api-key', KEY];
  // With --workers > 1 the schedule runs in the cluster's primary.
  if (retrain && retrainEvery !== '0') args.push('--retrain-every', retrainEvery, '--retrain-tolerance', flag('retrain-tolerance', '0.02'));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let t = 0; t < 600; t++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return { child, url };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server did not become ready in 120 s');
}

async function stopServer(child: ChildProcess): Promise<void> {
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

// ---- the model
const bundle = join(root, modelName);
const data = await loadDataset({ source: join(SHARED, 'datasets', 'ml-1m', 'ml-1m.txt'), format: 'sasrec' });
if (!isBundleDir(bundle)) {
  process.stderr.write(`bench serve: training ${modelName} on ML-1M into ${bundle} (once)\n`);
  // Serving speed does not depend on how well the model is trained: a few epochs keep this short.
  const config = modelName === 'sasrec' ? { epochs: Number(flag('epochs', '3')) } : {};
  await trainBundle(data, { model: modelName, config, out: bundle, seed: 42, progress: true });
}
const users = data.userIds.toArray();
const items = data.itemIds.toArray();

/**
 * The CPU picture of the measured runs: cores used by the load generator and by the server
 * (medians), and the machine's 1-minute load average at the end of each run (other jobs included).
 */
function cpuFigures(usage: { client_cores: number; server_cores: number | null; retrain_cores: number | null; loadavg_1m: number }[], perSecond: number[], unit: string): Record<string, unknown> {
  const server = usage.map((u) => u.server_cores).filter((x): x is number => x !== null);
  // CPU time the server spent per request (or event), all its threads and processes: far less
  // sensitive to other jobs on the machine than the rate, which they share the cores with.
  const cost = usage.flatMap((u, r) => (u.server_cores === null || !(perSecond[r] > 0) ? [] : [(1000 * u.server_cores) / perSecond[r]]));
  return {
    client_cores: median(usage.map((u) => u.client_cores)),
    server_cores: server.length > 0 ? median(server) : null,
    [`server_cpu_ms_per_${unit}`]: cost.length > 0 ? Math.round(median(cost) * 10_000) / 10_000 : null,
    retrain_cores_runs: usage.map((u) => u.retrain_cores),
    loadavg_runs: usage.map((u) => u.loadavg_1m),
  };
}

/**
 * A directory of bundles holding the bench model (a symlink), so the retrain loop can write new
 * bundles beside it without touching the cached one.
 */
function modelsDir(dir: string): string {
  const models = join(dir, 'models');
  mkdirSync(models);
  symlinkSync(bundle, join(models, modelName), 'dir');
  return models;
}

/** Retrain outcomes and swaps since the server started (the admin record and the model status). */
async function loopFigures(url: string): Promise<{ retrains: string[]; swaps: number; serving: string }> {
  // A swap is visible a moment before its record is appended: wait for the record (bounded).
  for (let t = 0; ; t++) {
    const figures = await loopOnce(url);
    if (figures.swaps <= 0 || figures.retrains.length > 0 || t >= 20) return figures;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function loopOnce(url: string): Promise<{ retrains: string[]; swaps: number; serving: string }> {
  const record = (await (await fetch(`${url}/api/model/retrains`, { headers: auth })).json()) as { Retrains?: { outcome: string; swapped: boolean; seconds?: number }[] };
  const model = (await (await fetch(`${url}/api/model`, { headers: auth })).json()) as { Swaps: number; Version: string };
  return {
    retrains: (record.Retrains ?? []).map((r) => `${r.outcome}${r.swapped ? '+swapped' : ''}${r.seconds ? ` ${r.seconds.toFixed(0)}s` : ''}`),
    swaps: model.Swaps - 1, // the first load counts as a swap
    serving: model.Version,
  };
}

/**
 * Posts `n` feedback events so a retrain has something new to learn and judge: new users who
 * repeat real ML-1M users' sequences (`copy-<u>`), posted round-robin one event per user at a
 * time, so the gate's holdout (the newest share by arrival) is the tail of each sequence.
 */
async function seedFeedback(url: string, n: number): Promise<void> {
  const copied: number[] = [];
  for (let u = 0; u < users.length && copied.length < 40; u++) if (data.offsets[u + 1] - data.offsets[u] >= 125) copied.push(u);
  const events: { FeedbackType: string; UserId: string; ItemId: string; Timestamp: string }[] = [];
  const t0 = Date.now() / 1000 - n;
  for (let step = 0; events.length < n; step++) {
    for (const u of copied) {
      if (events.length >= n || data.offsets[u] + step >= data.offsets[u + 1]) continue;
      events.push({ FeedbackType: 'click', UserId: `copy-${users[u]}`, ItemId: items[data.items[data.offsets[u] + step]], Timestamp: String(Math.floor(t0 + events.length)) });
    }
  }
  for (let k = 0; k < events.length; k += 1000) {
    const res = await fetch(`${url}/api/feedback`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(events.slice(k, k + 1000)) });
    if (!res.ok) throw new Error(`seeding feedback: ${res.status} ${await res.text()}`);
  }
}

// ---- recommend (cached and uncached)
for (const [caseName, cacheSize] of [
  ['recommend', 50_000],
  ['recommend_uncached', 0],
] as const) {
  if (!cases.has(caseName)) continue;
  const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-db-'));
  const retrain = caseName === 'recommend_uncached';
  const { child, url } = await startServer(modelsDir(dir), `sqlite:${join(dir, 'bench.db')}`, cacheSize, retrain);
  try {
    if (retrain) await seedFeedback(url, 5000);
    let next = 0;
    const request = (): autocannon.Options => ({
      url,
      connections,
      headers: auth,
      duration: seconds, // autocannon: `amount` would override `duration`, so timed runs set only this
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/recommend/${encodeURIComponent(users[next++ % users.length])}?n=10` }) }],
    });
    // Warm-up: one pass over every user (fills the cache when on, JIT-compiles the scorer).
    const { duration: _ignored, ...warm } = request();
    await cannon({ ...warm, amount: users.length });
    const rps: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    let errors = 0;
    let swapped = false;
    const usage: ReturnType<ReturnType<typeof cpuMeter>['stop']>[] = [];
    const scheduled = retrain && retrainEvery !== '0';
    for (let r = 0; r < runs || (scheduled && !swapped && r < runs + maxExtraRuns); r++) {
      const meter = cpuMeter(child.pid!);
      const res = await cannon(request());
      usage.push(meter.stop());
      rps.push(res.requests.average);
      p50.push(res.latency.p50);
      p99.push(res.latency.p99);
      errors += res.non2xx + res.errors + res.timeouts;
      if (scheduled) swapped = (await loopFigures(url)).swaps > 0;
    }
    const loop = retrain ? { ...(await loopFigures(url)), runs_total: rps.length } : {};
    emit('serve', caseName, { model: modelName, workers, connections, seconds, runs, rps: median(rps), p50_ms: median(p50), p99_ms: median(p99), errors, rps_runs: rps, p99_runs: p99, ...cpuFigures(usage, rps, 'request'), ...loop });
  } finally {
    await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- feedback: acknowledged and durable
if (cases.has('feedback')) {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-db-'));
  const db = join(dir, 'bench.db');
  const { child, url } = await startServer(modelsDir(dir), `sqlite:${db}`, 50_000, true);
  const perRequest = 100;
  let acked = 0;
  let k = 0;
  let failed = 0;
  const rates: number[] = [];
  /** Events acknowledged by the end of each measured run: the rate falls as the log grows. */
  const logged: number[] = [];
  const usage: ReturnType<ReturnType<typeof cpuMeter>['stop']>[] = [];
  let loop = {};
  try {
    let swapped = false;
    for (let r = 0; r <= runs || (!swapped && r <= runs + maxExtraRuns); r++) {
      const meter = cpuMeter(child.pid!);
      const res = await cannon({
        url,
        connections,
        duration: r === 0 ? 2 : seconds, // run 0 is the warm-up
        requests: [
          {
            method: 'POST',
            path: '/api/feedback',
            headers: { 'content-type': 'application/json', ...auth },
            setupRequest: (req) => {
              const batch = [];
              for (let e = 0; e < perRequest; e++, k++) batch.push({ FeedbackType: 'click', UserId: `bench-${k % feedbackUsers}`, ItemId: items[k % items.length] });
              return { ...req, body: JSON.stringify(batch) };
            },
          },
        ],
      });
      if (r > 0) usage.push(meter.stop());
      // Only 2xx answers count: the server sends them after the commit.
      const okRequests = res['2xx'];
      if (res.non2xx > 0 || res.errors > 0) process.stderr.write(`bench serve: feedback run ${r}: ${res.non2xx} non-2xx, ${res.errors} errors\n`);
      acked += okRequests * perRequest;
      failed += res.non2xx + res.errors + res.timeouts;
      if (r > 0) {
        rates.push((okRequests * perRequest) / res.duration);
        logged.push(acked);
      }
      swapped = retrainEvery === '0' || (await loopFigures(url)).swaps > 0;
    }
    loop = { ...(await loopFigures(url)), runs_total: rates.length };
  } finally {
    await stopServer(child);
  }
  const store = SqliteStore.open(db);
  const stored = await store.countFeedback();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  emit('serve', 'feedback', { workers, connections, seconds, runs, events_per_request: perRequest, users: feedbackUsers, events_per_s: median(rates), acked, stored, durable: stored >= acked, errors: failed, rate_runs: rates, acked_after_runs: logged, ...cpuFigures(usage, rates, 'event'), ...loop });
}
