/**
 * What the scale tests and `npm run bench -- scale` share: a Redis of their own, `reclab`
 * processes (workers, replicas), a tiny sequence dataset and a tiny sweep file.
 *
 * Redis: $RECLAB_TEST_REDIS_URL when set; else a throw-away `redis-server` on a free port when
 * the binary is installed (CI installs it, see .ci/run); else the callers skip, saying why.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/util/rng.ts';

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** Path of redis-server, or undefined. */
export function redisServerBinary(): string | undefined {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/** A Redis for a test: its URL and how to stop it (a no-op for an external one). */
export interface TestRedis {
  url: string;
  port: number;
  /** The server process when this harness started it (for kill/restart tests). */
  child?: ChildProcess;
  stop(): Promise<void>;
  /** Starts a stopped own server again on the same port. */
  restart?(): Promise<void>;
}

/** Starts redis-server on `port` in the foreground (no persistence) and waits until it answers. */
async function launchRedis(bin: string, port: number): Promise<ChildProcess> {
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const { Redis } = await import('ioredis');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return child;
    } catch {
      c.disconnect();
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer within 10 s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * The test Redis, or a reason to skip. `own`: a server of this test's own when redis-server is
 * installed, even if RECLAB_TEST_REDIS_URL is set (tests that kill and restart it need one).
 */
export async function testRedis(options: { own?: boolean } = {}): Promise<TestRedis | { skip: string }> {
  const external = process.env.RECLAB_TEST_REDIS_URL;
  const bin = redisServerBinary();
  if (external && !(options.own && bin)) return { url: external, port: Number(new URL(external).port || 6379), stop: async () => {} };
  if (!bin) return { skip: 'no Redis: set RECLAB_TEST_REDIS_URL or install redis-server (apt-get install redis-server; .ci/run does)' };
  const port = await freePort();
  const handle: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    child: await launchRedis(bin, port),
    async stop() {
      const c = handle.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
    async restart() {
      await handle.stop();
      handle.child = await launchRedis(bin, port);
    },
  };
  return handle;
}

/** A `reclab` child process with its stderr collected. */
export interface Child {
  proc: ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Resolves when a stderr line matches `re` (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

/** Starts `reclab <args>` (TypeScript through tsx, as bin/reclab.js does in a clone). */
export function reclab(args: string[], env: NodeJS.ProcessEnv = {}, nice = false): Child {
  const argv = [join(ROOT, 'bin', 'reclab.js'), ...args];
  const proc = nice && existsSync('/usr/bin/nice') ? spawn('/usr/bin/nice', ['-n', '10', process.execPath, ...argv], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const waiters: { re: RegExp; ok: (m: RegExpMatchArray) => void }[] = [];
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    err += chunk;
    for (const w of [...waiters]) {
      const m = err.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok(m);
      }
    }
  });
  proc.stdout!.resume();
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    stderr: () => err,
    exited,
    waitFor(re, ms = 120_000) {
      const m = err.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((ok, fail) => {
        const w = { re, ok };
        waiters.push(w);
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          fail(new Error(`timed out after ${ms} ms waiting for ${re} in stderr:\n${err.slice(-3000)}`));
        }, ms);
        t.unref();
        void exited.then(() => {
          if (waiters.includes(w)) fail(new Error(`process exited before ${re} appeared; stderr:\n${err.slice(-3000)}`));
        });
      });
    },
  };
}

/** Stops a child (SIGTERM, then SIGKILL after `ms`). */
export async function stopChild(c: Child, ms = 10_000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), ms);
  await c.exited;
  clearTimeout(t);
}

/**
 * A small sequence dataset in SASRec's pairs format (`user item` per line, time order): users
 * walking a noisy cycle over `items` items, so a sequential model learns something in an epoch.
 */
export function writeTinySequences(path: string, users = 200, items = 40, length = 14, seed = 3): void {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let u = 1; u <= users; u++) {
    let i = rng.int(items);
    for (let t = 0; t < length; t++) {
      lines.push(`${u} ${i + 1}`);
      i = rng.next() < 0.8 ? (i + 1) % items : rng.int(items);
    }
  }
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * A tiny 8-point SASRec sweep (layers 1,2 × hidden 8,16 × fractions 0.5,1) over `data`, its
 * results file and fit in `dir`. `epochs` sets the training budget of each point.
 */
export function writeTinySweep(dir: string, data: string, epochs = 2): string {
  const path = join(dir, 'sweep.yaml');
  writeFileSync(
    path,
    [
      'name: tiny-sasrec',
      `dataset: { path: ${JSON.stringify(data)}, format: sasrec }`,
      'split: loo',
      'model: sasrec',
      'layersKey: blocks',
      'hiddenKey: hidden',
      `config: { maxLen: 10, dropout: 0.2, heads: 1, batchSize: 64, lr: 0.005, epochs: ${epochs} }`,
      'grid: { layers: [1, 2], hidden: [8, 16], fractions: [0.5, 1], seeds: [0] }',
      'protocol: uni100',
      'metrics: [ndcg@10, hr@10]',
      `out: ${JSON.stringify(join(dir, 'single.jsonl'))}`,
      `fit: { metric: ndcg@10, outDir: ${JSON.stringify(join(dir, 'fit'))}, loco: false }`,
      '',
    ].join('\n'),
  );
  return path;
}
