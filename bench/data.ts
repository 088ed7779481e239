/**
 * `npm run bench -- data`: wall time of load + prepare + leave-one-out split.
 *
 * - `ml-1m`: ../shared/datasets/ml-1m/ml-1m.txt (SASRec format, 999,611 lines), read from text
 *   (no cache), dedup first + 5-core, LOO. Median of 5 runs after a warm-up, in this process.
 *   Goal ≤ 1.0 s.
 * - `ml-1m-cached`: the same through the binary cache (a warm second load).
 * - `synthetic-20m`: a generated 20,000,000-line CSV (`user_id,item_id,rating,timestamp`, each
 *   user's rows sorted by item id as in ml-20m's ratings.csv, so times must be sorted), written
 *   once into the temp folder and reused. Each run is a fresh child process so its peak RSS is
 *   the run's own. Median of 3 runs. Goal ≤ 30 s and ≤ 2 GB peak RSS.
 *
 * `median_cpu_s` (CPU time of the run) and `load_avg_1m` are printed too: on a shared machine
 * wall time grows with the load while CPU time does not.
 *
 * Flags: `--runs N` (ml-1m runs), `--big-runs N`, `--skip-big`, `--events N` (size of the big case).
 */
import { existsSync, mkdirSync, openSync, writeSync, closeSync, renameSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, median, timeRuns, SHARED, hasShared } from './_util.ts';
import { loadDataset } from '../src/data/load.ts';
import { splitDataset } from '../src/data/split.ts';
import { syntheticEvents } from '../src/data/synthetic.ts';
import type { PrepareOptions } from '../src/data/prepare.ts';

const PREP: PrepareOptions = { dedup: 'first', kCore: 5 };
const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 ? Number(args[k + 1]) : fallback;
};

async function loadPrepareSplit(source: string, format: string, cacheDir: string | false): Promise<number> {
  const d = await loadDataset({ source, format }, PREP, { cacheDir });
  const s = splitDataset(d, { kind: 'loo' });
  return s.test.offsets[s.test.nUsers];
}

/** Child mode: one timed run on the big CSV, printing seconds and peak RSS. */
async function child(csv: string): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const tested = await loadPrepareSplit(csv, 'csv', false);
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ seconds, cpuSeconds: (c.user + c.system) / 1e6, rssMb, tested })}\n`);
}

/** Writes the synthetic CSV once (atomically) and returns its path. */
function bigCsv(events: number): string {
  const dir = join(tmpdir(), 'reclab-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `synthetic-${events}.csv`);
  if (existsSync(path) && statSync(path).size > events * 10) return path;
  const users = Math.round(events / 143);
  const items = Math.max(1000, Math.round(events / 740));
  process.stderr.write(`bench data: writing ${path} (${events} events, ${users} users, ${items} items) once…\n`);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  let buf = 'user_id,item_id,rating,timestamp\n';
  let current = -1;
  let rows: { item: number; line: string }[] = [];
  const flushUser = (): void => {
    rows.sort((a, b) => a.item - b.item);
    for (const r of rows) buf += r.line;
    rows = [];
    if (buf.length > 1 << 22) {
      writeSync(fd, buf);
      buf = '';
    }
  };
  syntheticEvents({ users, items, interactions: events, seed: 20 }, (u, i, t, r) => {
    if (u !== current) {
      flushUser();
      current = u;
    }
    rows.push({ item: i, line: `${u + 1},${i + 1},${r},${t}\n` });
  });
  flushUser();
  writeSync(fd, buf);
  closeSync(fd);
  renameSync(tmp, path);
  return path;
}

async function main(): Promise<void> {
  if (args[0] === '--child') return child(args[1]);
  const runs = flag('runs', 5);
  if (hasShared()) {
    const ml1m = join(SHARED, 'datasets', 'ml-1m', 'ml-1m.txt');
    const c0 = process.cpuUsage();
    const times = await timeRuns(() => loadPrepareSplit(ml1m, 'sasrec', false), runs, 1);
    const c = process.cpuUsage(c0);
    emit('data', 'ml-1m', {
      median_s: Number(median(times).toFixed(4)),
      runs,
      min_s: Number(Math.min(...times).toFixed(4)),
      mean_cpu_s: Number(((c.user + c.system) / 1e6 / (runs + 1)).toFixed(4)),
      load_avg_1m: Number(loadavg()[0].toFixed(2)),
      events: 999611,
      goal_s: 1.0,
    });
    const cacheDir = mkdtempSync(join(tmpdir(), 'reclab-bench-cache-'));
    try {
      const cached = await timeRuns(() => loadPrepareSplit(ml1m, 'sasrec', cacheDir), runs, 1);
      emit('data', 'ml-1m-cached', { median_s: Number(median(cached).toFixed(4)), runs });
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  } else {
    process.stderr.write('bench data: ../shared/datasets not found, skipping ml-1m\n');
  }
  if (args.includes('--skip-big')) return;
  const events = flag('events', 20_000_000);
  const csv = bigCsv(events);
  const bigRuns = flag('big-runs', 3);
  const results: { seconds: number; cpuSeconds: number; rssMb: number }[] = [];
  const self = fileURLToPath(import.meta.url);
  for (let k = 0; k < bigRuns; k++) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', csv], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`bench data: child run failed: ${r.stderr}`);
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; cpuSeconds: number; rssMb: number });
  }
  emit('data', events === 20_000_000 ? 'synthetic-20m' : `synthetic-${events}`, {
    median_s: Number(median(results.map((r) => r.seconds)).toFixed(3)),
    median_cpu_s: Number(median(results.map((r) => r.cpuSeconds)).toFixed(3)),
    load_avg_1m: Number(loadavg()[0].toFixed(2)),
    peak_rss_mb: Math.round(Math.max(...results.map((r) => r.rssMb))),
    runs: bigRuns,
    events,
    csv_mb: Math.round(statSync(csv).size / 1e6),
    goal_s: 30,
    goal_rss_mb: 2048,
  });
}

await main();
