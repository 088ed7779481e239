/**
 * `ann-1m-http` of `npm run bench -- scale`: the ANN path measured through the service, as a user
 * meets it — `GET /api/recommend/{user}` against `reclab serve` — on the same generated catalogue
 * as `ann-1m` (src/serve/ann-synthetic.ts, 1,000,000 items × 64 by default).
 *
 * The catalogue's vectors become a servable iALS bundle (the items' rows as its item factors, each
 * generated user's query vector as that user's trained row, their history as the training events,
 * one category per item), and the index `ann-1m` built and cached is copied in as the bundle's
 * index — so run `ann-1m` first. The server serves it with the answer cache off, so every request
 * runs the model's user vector → HNSW search with the history excluded → exact re-scoring.
 *
 * Two load runs (autocannon, keep-alive connections):
 * - at a fixed offered rate (--rate, default 1,000 req/s) for --seconds: `rps`, `p50_ms`,
 *   `p99_ms` are what a user sees at that rate (the issue's "p99 ≤ 20 ms at ≥ 1,000 req/s");
 * - unthrottled (closed loop, --connections): `max_rps` and its p99.
 * `server_cpu_ms_per_request` is the server process's CPU time per answered request (load-robust).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { cannon, freePort } from './_http.ts';
import { emit, flag } from './_util.ts';
import { fromSequences } from '../src/data/interactions.ts';
import { IdMap } from '../src/data/types.ts';
import { rowFingerprint } from '../src/models/cf/factor.ts';
import { createModel } from '../src/models/registry.ts';
import { ANN_DEFAULTS, annPath } from '../src/serve/ann.ts';
import { syntheticCatalogue } from '../src/serve/ann-synthetic.ts';
import { saveBundle } from '../src/serve/bundle.ts';

const log = (s: string) => process.stderr.write(`scale ann-http: ${s}\n`);

/** Writes the catalogue as an iALS bundle in `dir` with the cached index beside it. */
async function writeBundle(dir: string, indexFile: string, n: number, d: number, users: number): Promise<void> {
  const cat = syntheticCatalogue({ n, d, users });
  const history = fromSequences(cat.history.map((h) => [...h]), n);
  const model = createModel('ials', { dim: d });
  const fields = model as unknown as { n: number; users: Float32Array; items: Float32Array; seen: Uint8Array; trainCount: Int32Array; trainHash: Int32Array };
  fields.n = n;
  fields.items = cat.items;
  fields.users = cat.users;
  fields.seen = new Uint8Array(users).fill(1);
  // The training row's fingerprint, so a known user's stored vector is served as is (no fold-in).
  fields.trainCount = Int32Array.from({ length: users }, (_, u) => history.offsets[u + 1] - history.offsets[u]);
  fields.trainHash = Int32Array.from({ length: users }, (_, u) => rowFingerprint(history, u));
  await model.save(dir);
  await saveBundle(dir, {
    name: `synthetic-${n}x${d}`,
    fingerprint: `synthetic-${n}x${d}-${users}`,
    userIds: IdMap.fromRaw(Array.from({ length: users }, (_, u) => `u${u}`)),
    itemIds: IdMap.fromRaw(Array.from({ length: n }, (_, i) => `i${i}`)),
    history,
    itemCategories: Array.from(cat.category, (c) => [`c${c}`]),
  });
  copyFileSync(indexFile, annPath(dir));
}

/** CPU seconds (user + system) so far of a process and its live descendants (a cluster's workers), from /proc. */
function cpuSeconds(pid: number): number {
  let total = 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    total = (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100 Hz)
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)) total += cpuSeconds(Number(child));
    }
  } catch {
    // the process ended between the reads: its time is no longer counted
  }
  return total;
}

/** Runs the case and prints its JSON line. */
export async function annHttpCase(): Promise<void> {
  const n = Number(flag('items', '1000000'));
  const d = Number(flag('dims', '64'));
  const users = 2000;
  const seconds = Number(flag('seconds', '20'));
  const rate = Number(flag('rate', '1000'));
  const connections = Number(flag('connections', '16'));
  const workers = flag('workers', '1');
  const base = process.env.RECLAB_BENCH_DIR ?? join(tmpdir(), 'reclab-bench-scale');
  const s = ANN_DEFAULTS;
  const indexFile = join(base, `ann-${n}x${d}-M${s.connectivity}-ef${s.expansionAdd}-${s.quantization}.usearch`);
  if (!existsSync(indexFile)) throw new Error(`ann-1m-http: no cached index ${indexFile}; run \`npm run bench -- scale ann-1m\` first (it builds and keeps it)`);
  const dir = join(base, `ann-bundle-${n}x${d}`);
  if (!existsSync(join(dir, 'serve.json'))) {
    mkdirSync(dir, { recursive: true });
    log(`writing the bundle ${dir}`);
    await writeBundle(dir, indexFile, n, d, users);
  }
  const db = join(base, `ann-http-${process.pid}.db`);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['bin/reclab.js', 'serve', '--models', dir, '--db', `sqlite:${db}`, '--port', String(port), '--rate-limit', '0', '--cache-size', '0', '--workers', workers], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  try {
    const t0 = performance.now();
    for (let t = 0; ; t++) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      if (t > 1200) throw new Error('server not ready in 240 s');
      const ok = await fetch(`${url}/health/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`server ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let next = 0;
    const request = (): autocannon.Options => ({
      url,
      connections,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/recommend/u${next++ % users}?n=10` }) }],
    });
    // Warm-up: the first request loads the index; then every user once.
    const first = await fetch(`${url}/api/recommend/u0?n=10`);
    if (first.status !== 200) throw new Error(`recommend answered ${first.status}: ${await first.text()}`);
    const items = (await first.json()) as string[];
    if (items.length !== 10) throw new Error(`recommend gave ${items.length} items`);
    await cannon({ ...request(), amount: users });
    const pid = child.pid!;
    let cpu0 = cpuSeconds(pid);
    const fixed = await cannon({ ...request(), duration: seconds, overallRate: rate });
    const fixedCpu = cpuSeconds(pid) - cpu0;
    cpu0 = cpuSeconds(pid);
    const open = await cannon({ ...request(), duration: seconds });
    const openCpu = cpuSeconds(pid) - cpu0;
    const answered = (r: autocannon.Result) => r['2xx'];
    emit('scale', 'ann-1m-http', {
      rps: Math.round(answered(fixed) / seconds),
      p99_ms: fixed.latency.p99,
      p50_ms: fixed.latency.p50,
      offered_rps: rate,
      errors: fixed.errors + fixed.non2xx,
      max_rps: Math.round(answered(open) / seconds),
      max_p99_ms: open.latency.p99,
      max_errors: open.errors + open.non2xx,
      server_cpu_ms_per_request: Number(((1000 * fixedCpu) / Math.max(1, answered(fixed))).toFixed(3)),
      server_cpu_ms_per_request_max: Number(((1000 * openCpu) / Math.max(1, answered(open))).toFixed(3)),
      items: n,
      dims: d,
      workers: Number(workers),
      connections,
      seconds,
      load1: Number(loadavg()[0].toFixed(1)),
      path: 'HTTP: GET /api/recommend/{user}?n=10 against reclab serve (iALS bundle of the generated catalogue, its HNSW index, answer cache off, history excluded, exact re-scoring)',
    });
  } finally {
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await done;
    for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  }
}
