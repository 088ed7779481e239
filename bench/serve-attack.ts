/**
 * The service under two resource attacks, against a real `reclab serve` child process (bounded by
 * request count and time; 127.0.0.1 only):
 *
 *   npm run bench -- serve-attack [--requests 20000] [--items 3000] [--slow 600]
 *
 * - `cache_attack`: GET /api/recommend/<user>?n=1000&exclude=z<i> with a new `i` each time, so
 *   every request is a new answer-cache key holding 1,000 items. Before the byte bound this drove
 *   RSS from 170 MB to 3.71 GB. Prints the RSS before, the peak during, the cache's own byte
 *   count, and the bound (`--cache-bytes`, default 64 MiB); the must-show is peak < bound + 200 MB.
 * - `slow_clients`: `--slow` connections send headers and then a body a byte at a time, while
 *   /health/live is probed; prints the probes' p50/p99 and how many failed.
 * Needs no dataset: the model is a popularity model over a synthetic catalogue of --items items.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { emit, flag } from './_util.ts';
import { spawnServe, tempDir, writeWideBundle } from '../test/serve/fixtures.ts';

const requests = Number(flag('requests', '20000'));
const nItems = Number(flag('items', '3000'));
const slow = Number(flag('slow', '600'));
/** Extra `reclab serve` flags, e.g. `--serve-args "--cache-size 0"` for the baseline without a cache. */
const serveArgs = flag('serve-args', '').split(' ').filter(Boolean);

/** Resident set size of a process in MB (Linux /proc). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Starts `reclab serve` on a free port with the extra flags; resolves once it listens. */
const serve = (models: string, db: string) => spawnServe(models, db, serveArgs);

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

const dir = tempDir('reclab-bench-attack-');
await writeWideBundle(join(dir, 'wide'), nItems);
const { child, url } = await serve(join(dir, 'wide'), `sqlite:${join(dir, 'attack.db')}`);
const pid = child.pid!;
try {
  // ---- cache attack
  const before = rssMb(pid);
  let peak = before;
  const deadline = Date.now() + 300_000;
  let sent = 0;
  const worker = async () => {
    while (sent < requests && Date.now() < deadline) {
      const k = sent++;
      const res = await fetch(`${url}/api/recommend/heavy?n=1000&exclude=z${k}`);
      await res.arrayBuffer();
      if (k % 250 === 0) peak = Math.max(peak, rssMb(pid));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, worker));
  peak = Math.max(peak, rssMb(pid));
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const cacheBytes = Number(/reclab_answer_cache_bytes (\d+)/.exec(metrics)?.[1] ?? Number.NaN);
  const boundMb = 64;
  emit('serve-attack', 'cache_attack', {
    requests: sent,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    rss_before_mb: +before.toFixed(0),
    peak_rss_mb: +peak.toFixed(0),
    cache_mb: +(cacheBytes / 1048576).toFixed(1),
    bound_mb: boundMb,
    within_bound_plus_200mb: peak < boundMb + 200 + before,
  });

  // ---- slow clients
  const { port } = new URL(url);
  const sockets: Socket[] = [];
  for (let k = 0; k < slow; k++) {
    const s = connect(Number(port), '127.0.0.1');
    s.on('error', () => {});
    s.write(`POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[`);
    sockets.push(s);
  }
  const dribble = setInterval(() => sockets.forEach((s) => !s.destroyed && s.write(' ')), 500);
  const probes: number[] = [];
  let failed = 0;
  for (let k = 0; k < 200; k++) {
    const t = performance.now();
    try {
      const res = await fetch(`${url}/health/live`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
      await res.text();
      if (res.status !== 200) failed++;
    } catch {
      failed++;
    }
    probes.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 25));
  }
  clearInterval(dribble);
  const open = sockets.filter((s) => !s.destroyed).length;
  sockets.forEach((s) => s.destroy());
  emit('serve-attack', 'slow_clients', {
    slow_connections: slow,
    still_open_after_probes: open,
    probes: probes.length,
    probes_failed: failed,
    p50_ms: +percentile(probes, 0.5).toFixed(2),
    p99_ms: +percentile(probes, 0.99).toFixed(2),
  });
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
