/**
 * Cluster mode (`reclab serve --workers N`, issue 15): the pieces in memory first — IPC requests,
 * the restart policy, the shared rate-limit counters, the model-swap coordinator — then the real
 * CLI as a child process: a killed worker is replaced, a crash loop ends in a non-zero exit, fresh
 * starts on an empty SQLite file all listen, deletes under load give no 500, one PUT /api/model
 * changes every worker (and replacements), the rate limit holds across workers, SIGTERM drains and
 * exits 0, SIGHUP reaches every worker, and workers die with their primary.
 *
 * Timings are printed, not asserted tightly: CI is a shared 2-core machine where starting a worker
 * (TypeScript through tsx) takes from 2 to 15 s depending on load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RpcFailure } from '../../src/serve/cluster-rpc.ts';
import { RestartPolicy } from '../../src/serve/cluster-restarts.ts';
import { WindowCounter, clusterRateLimitStore, serveRateLimit, type Hit } from '../../src/serve/cluster-ratelimit.ts';
import { ModelCoordinator, type ModelLabel, type SwapWorker } from '../../src/serve/cluster-models.ts';
import { fixtureData, rpcPair, tempDir, writeFixtureBundle } from './fixtures.ts';
import { createModel } from '../../src/models/registry.ts';
import { IdMap } from '../../src/data/types.ts';
import { fromSequences } from '../../src/data/interactions.ts';
import { saveBundle } from '../../src/serve/bundle.ts';
import { openStore } from '../../src/serve/store.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

describe('cluster rpc', () => {
  it('answers requests, carries handler errors, times out and fails pending requests on close', async () => {
    const { a, b, cut } = rpcPair();
    b.handle<{ x: number }>('double', ({ x }) => 2 * x);
    b.handle('fail', () => {
      throw new Error('nope');
    });
    b.handle('never', () => new Promise(() => {}));
    const notes: unknown[] = [];
    b.handle('note', (p) => void notes.push(p));
    expect(await a.request('double', { x: 21 })).toBe(42);
    await expect(a.request('fail', {})).rejects.toThrow('nope');
    await expect(a.request('missing', {})).rejects.toThrow('no handler for "missing"');
    const late = a.request('never', {}, 30);
    await expect(late).rejects.toBeInstanceOf(RpcFailure);
    await expect(late).rejects.toMatchObject({ kind: 'timeout' });
    a.notify('note', { hello: 1 });
    await new Promise((r) => setTimeout(r, 10));
    expect(notes).toEqual([{ hello: 1 }]);
    const pending = a.request('never', {});
    cut();
    await expect(pending).rejects.toMatchObject({ kind: 'closed' });
    await expect(a.request('double', { x: 1 })).rejects.toMatchObject({ kind: 'closed' });
  });

  it('ignores messages that are not its own', () => {
    const { a } = rpcPair();
    expect(a.receive({ cmd: 'NODE_CLUSTER' })).toBe(false);
    expect(a.receive('text')).toBe(false);
    expect(a.receive(null)).toBe(false);
  });
});

describe('restart policy', () => {
  it('backs off exponentially on rapid failures, gives up after the limit, resets after a long life', () => {
    const p = new RestartPolicy({ baseMs: 100, maxMs: 1000, stableMs: 30_000, maxRapidFailures: 5 });
    expect([1, 2, 3, 4].map(() => p.onDeath(500))).toEqual([100, 200, 400, 800]);
    expect(p.onDeath(500)).toBeUndefined(); // the fifth in a row
    const q = new RestartPolicy({ baseMs: 100, maxMs: 300, stableMs: 30_000, maxRapidFailures: 10 });
    expect([1, 2, 3, 4].map(() => q.onDeath(10))).toEqual([100, 200, 300, 300]);
    expect(q.onDeath(60_000)).toBe(100); // lived long: an incident, and the count starts again
    expect(q.rapidFailures).toBe(0);
    expect(q.onDeath(10)).toBe(100);
  });
});

describe('cluster rate limit', () => {
  it('counts like the LocalStore of @fastify/rate-limit: window, expiry, continueExceeding, bounded keys', () => {
    const c = new WindowCounter(2);
    expect(c.incr('k', 1000, 2, {}, 0)).toEqual({ current: 1, ttl: 1000 });
    expect(c.incr('k', 1000, 2, {}, 400)).toEqual({ current: 2, ttl: 600 });
    expect(c.incr('k', 1000, 2, {}, 900)).toEqual({ current: 3, ttl: 100 });
    expect(c.read('k', 1000, 950)).toEqual({ current: 3, ttl: 50 });
    expect(c.incr('k', 1000, 2, {}, 1000)).toEqual({ current: 1, ttl: 1000 }); // a new window
    expect(c.incr('j', 1000, 1, { continueExceeding: true }, 0).current).toBe(1);
    expect(c.incr('j', 1000, 1, { continueExceeding: true }, 500)).toEqual({ current: 2, ttl: 1000 });
    c.incr('x', 1000, 1, {}, 0); // third key: the least recently counted ('k') goes
    expect(c.read('k', 1000, 10)).toEqual({ current: 0, ttl: 0 });
  });

  it('shares one count between workers through the primary, and falls back to a local count when the primary is slow', async () => {
    const counter = new WindowCounter();
    const one = rpcPair();
    const two = rpcPair();
    serveRateLimit(one.b, counter);
    serveRateLimit(two.b, counter);
    const Store1 = clusterRateLimitStore(one.a);
    const Store2 = clusterRateLimitStore(two.a);
    const s1 = new Store1({});
    const s2 = new Store2({});
    const incr = (s: InstanceType<typeof Store1>) => new Promise<Hit>((ok, fail) => s.incr('ip:1', (e, r) => (e ? fail(e) : ok(r!)), 60_000, 3));
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await incr(s1)).current, (await incr(s2)).current);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    // Requests made in the same turn travel as one batch and are still counted one by one.
    const burst = await Promise.all(range(10).map((i) => incr(i % 2 ? s1 : s2)));
    expect(burst.map((h) => h.current).sort((x, y) => x - y)).toEqual(range(10).map((i) => i + 7));
    // A route with its own limit counts apart from the global one, under the same name in every worker.
    const r1 = s1.child({ routeInfo: { method: 'GET', url: '/x' } });
    const r2 = s2.child({ routeInfo: { method: 'GET', url: '/x' } });
    expect((await incr(r1 as never)).current).toBe(1);
    expect((await incr(r2 as never)).current).toBe(2);

    // A primary that does not answer: counted in the worker, told once, the primary skipped meanwhile.
    const slow = rpcPair();
    slow.b.handle('ratelimit.count', () => new Promise(() => {}));
    const told: string[] = [];
    const Slow = clusterRateLimitStore(slow.a, { timeoutMs: 20, retryMs: 60_000, onDegraded: (r) => told.push(r) });
    const s = new Slow({});
    const t0 = Date.now();
    expect((await incr(s)).current).toBe(1);
    expect((await incr(s)).current).toBe(2);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/no answer within 20 ms/);
  });
});

/** A fake worker: records what it was told, loads for `loadMs`, fails for names in `failOn`. */
function fakeWorker(pid: number, trace: string[], opts: { failOn?: string[]; hangOn?: string[]; loadMs?: number } = {}) {
  const w = {
    pid,
    serving: 'a' as string | undefined,
    restarted: [] as string[],
    async swap(name: string | undefined): Promise<ModelLabel> {
      trace.push(`${pid}:start:${name}`);
      if (opts.hangOn?.includes(name ?? '')) throw new RpcFailure('timeout', 'model.swap: no answer within 5 ms');
      await new Promise((r) => setTimeout(r, opts.loadMs ?? 5));
      if (opts.failOn?.includes(name ?? '')) {
        trace.push(`${pid}:fail:${name}`);
        throw new Error(`cannot load ${name}`);
      }
      w.serving = name;
      trace.push(`${pid}:done:${name}`);
      return { name: name ?? '', version: `${name}@1` };
    },
    restart(reason: string) {
      w.restarted.push(reason);
    },
  };
  return w satisfies SwapWorker;
}

describe('model coordinator', () => {
  const models = tempDir();
  const bundles = Promise.all(['a', 'b', 'c'].map((n) => writeFixtureBundle(join(models, n), 'pop')));

  it('runs swaps one at a time across the cluster and pins the last name that succeeded', async () => {
    await bundles;
    const trace: string[] = [];
    const workers = [fakeWorker(1, trace), fakeWorker(2, trace)];
    const c = new ModelCoordinator(models, 'a', () => workers, () => {}, 1000);
    const [rb, rc] = await Promise.all([c.swapAll('b'), c.swapAll('c')]);
    expect(rb?.version).toBe('b@1');
    expect(rc?.version).toBe('c@1');
    // Every worker finished b before any started c.
    const lastB = Math.max(trace.indexOf('1:done:b'), trace.indexOf('2:done:b'));
    const firstC = Math.min(trace.indexOf('1:start:c'), trace.indexOf('2:start:c'));
    expect(lastB).toBeLessThan(firstC);
    expect(c.pinned).toBe('c');
    expect(c.generation).toBe(2);
    expect(workers.map((w) => w.serving)).toEqual(['c', 'c']);
    await expect(c.swapAll('zzz')).rejects.toThrow(/model "zzz" not found/);
    expect(c.pinned).toBe('c');
  });

  it('on a partial failure puts the workers that swapped back, restarts those that did not answer, and reports the first error', async () => {
    await bundles;
    const trace: string[] = [];
    const ok = fakeWorker(1, trace);
    const bad = fakeWorker(2, trace, { failOn: ['b'] });
    const hung = fakeWorker(3, trace, { hangOn: ['b'] });
    const lines: string[] = [];
    const c = new ModelCoordinator(models, 'a', () => [ok, bad, hung], (l) => lines.push(l), 1000);
    await expect(c.swapAll('b')).rejects.toThrow(/cannot load b \(worker 2; 1 that had swapped were put back\)/);
    expect(c.pinned).toBe('a');
    expect(c.generation).toBe(0);
    expect(ok.serving).toBe('a'); // went to b, then back
    expect(trace.filter((t) => t.startsWith('1:'))).toEqual(['1:start:b', '1:done:b', '1:start:a', '1:done:a']);
    expect(bad.serving).toBe('a'); // never changed
    expect(bad.restarted).toEqual([]);
    expect(hung.restarted).toHaveLength(1); // its state is unknown
    expect(lines.join('\n')).toMatch(/failed on 2 of 3 workers/);
  });

  it('brings a worker started before a swap onto the pinned model once it is ready', async () => {
    await bundles;
    const trace: string[] = [];
    const early = fakeWorker(1, trace);
    const ready: SwapWorker[] = [early];
    const c = new ModelCoordinator(models, 'a', () => ready, () => {}, 1000);
    const forkedAt = c.generation;
    await c.swapAll('b');
    const late = fakeWorker(2, trace); // forked at generation 0, on 'a'
    ready.push(late);
    await c.align(late, forkedAt);
    expect(late.serving).toBe('b');
    const current = fakeWorker(3, trace);
    ready.push(current);
    await c.align(current, c.generation); // forked after the swap: nothing to do
    expect(trace.some((t) => t.startsWith('3:'))).toBe(false);
    const broken = fakeWorker(4, trace, { failOn: ['b'] });
    ready.push(broken);
    await c.align(broken, forkedAt);
    expect(broken.restarted).toHaveLength(1);
    c.close('stopping');
    await expect(c.swapAll('a')).rejects.toThrow('stopping');
  });
});

// ---------------------------------------------------------------------------------------------
// The real CLI: `node bin/reclab.js serve --workers 2` as a child process
// ---------------------------------------------------------------------------------------------

/**
 * Every primary a test started. A test that times out never reaches its `finally`; without this the
 * cluster would outlive the test run (its workers end with it).
 */
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

/** A running `reclab serve --workers 2`. */
interface Cluster {
  /** The primary. */
  child: ChildProcess;
  url: string;
  workers: number[];
  /** Everything the cluster wrote to stderr so far. */
  log(): string;
  /** The first match of `re` in stderr from character `from` on (waits up to `timeoutMs`). */
  waitFor(re: RegExp, from?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the cluster and resolves once the primary says every worker listens. */
async function serveCluster(models: string, db: string, extra: string[] = []): Promise<Cluster> {
  const args = [join(ROOT, 'bin', 'reclab.js'), 'serve', '--models', models, '--db', db, '--port', '0', '--workers', '2', ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  const waiters = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const w of waiters) w();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let exited = false;
  void exit.then(() => {
    exited = true;
    for (const w of waiters) w();
  });
  const waitFor = (re: RegExp, from = 0, timeoutMs = 120_000) =>
    new Promise<RegExpExecArray>((ok, fail) => {
      const timer = setTimeout(() => done(new Error(`no ${re} within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
      const check = () => {
        const m = re.exec(err.slice(from));
        if (m) done(undefined, m);
        else if (exited) done(new Error(`cluster exited before ${re}; stderr:\n${err}`));
      };
      const done = (e?: Error, m?: RegExpExecArray) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (e) fail(e);
        else ok(m!);
      };
      waiters.add(check);
      check();
    });
  try {
    const m = await waitFor(/listening on (http:\/\/[\d.]+:\d+) \(primary pid (\d+), workers (\d+(?:,\d+)*),/);
    expect(Number(m[2])).toBe(child.pid);
    expect(m[3].split(',')).toHaveLength(2);
    return { child, url: m[1], workers: m[3].split(',').map(Number), log: () => err, waitFor, exit };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

/** Ends a cluster a test left running (its workers exit with it: see the orphan test). */
async function cleanup(c: Cluster | undefined): Promise<void> {
  if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const t = setTimeout(() => c.child.kill('SIGKILL'), 30_000);
  await c.exit;
  clearTimeout(t);
}

interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One HTTP request over a fresh connection (no keep-alive: the primary hands each connection to a worker). */
function call(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<Reply> {
  return new Promise((ok, fail) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        headers: { connection: 'close', ...(data !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          ok({ status: res.statusCode!, json });
        });
      },
    );
    // A connection the primary was handing to a worker as it died stays open and unanswered (a
    // node:cluster limitation of round-robin mode): a client's timeout ends it.
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })));
    req.on('error', fail);
    req.end(data);
  });
}

/** True while `pid` runs (a zombie waiting for its parent counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The `reclab serve` worker processes whose parent is `primary`, from /proc (Linux). */
function workersOf(primary: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === primary && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('reclab.js')) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Writes an EASE bundle of the fixture data (a second model kind the CLI can load, unlike test-markov). */
async function writeEaseBundle(dir: string): Promise<void> {
  const { userIds, itemIds, history } = fixtureData();
  const model = createModel('ease');
  await model.fit(history, { seed: 1 });
  await model.save(dir);
  await saveBundle(dir, { name: 'fixture', fingerprint: 'fixture', userIds, itemIds, history });
}

/**
 * A popularity bundle over `nItems` items, so that seeding the catalogue at start is a transaction
 * long enough for two workers starting together to overlap in it.
 */
async function writeWideBundle(dir: string, nItems: number): Promise<void> {
  const raw = range(nItems).map((i) => `item-${i}`);
  const sequences = range(200).map((u) => range(50).map((k) => (u * 131 + k * 977) % nItems));
  const userIds = IdMap.fromRaw(range(200).map((u) => `user-${u}`));
  const history = fromSequences(sequences, nItems);
  const model = createModel('pop');
  await model.fit(history, { seed: 1 });
  await model.save(dir);
  await saveBundle(dir, { name: 'wide', fingerprint: 'wide', userIds, itemIds: IdMap.fromRaw(raw), history });
}

/** `n` answers of GET `path`, each over its own connection. */
const fresh = (c: Cluster, path: string, n = 20, headers: Record<string, string> = {}) => Promise.all(range(n).map(() => call(`${c.url}${path}`, 'GET', undefined, headers)));

describe('reclab serve --workers 2', () => {
  it('replaces a worker killed with -9 while answering, and its workers die with a killed primary', async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    let c: Cluster | undefined;
    try {
      c = await serveCluster(join(dir, 'model'), `sqlite:${join(dir, 'x.db')}`);
      const [victim, survivor] = c.workers;
      const mark = c.log().length;
      const tally = new Map<string, number>();
      let loading = true;
      const load = (async () => {
        while (loading) {
          const r = await call(`${c!.url}/api/popular`, 'GET', undefined, {}, 5_000).catch((e: NodeJS.ErrnoException) => ({ status: e.code ?? 'error' }));
          tally.set(String(r.status), (tally.get(String(r.status)) ?? 0) + 1);
        }
      })();
      await sleep(200);
      const t0 = performance.now();
      process.kill(victim, 'SIGKILL');
      const m = await c.waitFor(new RegExp(`worker (\\d+) replaced ${victim}, serving ([\\d.]+) s after it died`), mark);
      const respawn = (performance.now() - t0) / 1000;
      loading = false;
      await load;
      const answers = await fresh(c, '/api/popular');
      const answered = (performance.now() - t0) / 1000;
      console.log(
        `cluster respawn: worker ${victim} killed -9; replacement ${m[1]} listening after ${respawn.toFixed(2)} s (primary's figure ${m[2]} s), ` +
          `20 fresh answers by ${answered.toFixed(2)} s; requests meanwhile: ${JSON.stringify(Object.fromEntries(tally))}`,
      );
      expect(answers.map((a) => a.status)).toEqual(range(20).map(() => 200));
      expect(tally.get('200') ?? 0).toBeGreaterThan(0); // the survivor answered while the replacement started
      expect(respawn).toBeLessThan(60); // a generous bound: ≈ 2 s on an idle machine, 15 s on a loaded one
      expect(c.log()).toMatch(new RegExp(`worker ${victim} exited \\(SIGKILL\\) after [\\d.]+ s; replacing it in \\d+ ms`));

      // kill -9 of the primary: the workers must not run on orphaned.
      const workers = [Number(m[1]), survivor];
      const t1 = performance.now();
      c.child.kill('SIGKILL');
      await c.exit;
      while (workers.some(alive) && performance.now() - t1 < 10_000) await sleep(50);
      console.log(`cluster orphans: workers ${workers.join(',')} gone ${((performance.now() - t1) / 1000).toFixed(2)} s after the primary was killed`);
      expect(workers.filter(alive)).toEqual([]);
    } finally {
      await cleanup(c);
    }
  }, 300_000);

  it('gives up when workers keep dying young: stops the rest and exits non-zero', async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    let c: Cluster | undefined;
    try {
      c = await serveCluster(join(dir, 'model'), `sqlite:${join(dir, 'x.db')}`);
      const primary = c.child.pid!;
      const killed = new Set<number>();
      let over = false;
      void c.exit.then(() => (over = true));
      const t0 = performance.now();
      // Kill every worker as soon as it exists, started or not.
      while (!over && performance.now() - t0 < 240_000) {
        for (const pid of workersOf(primary)) {
          if (killed.has(pid)) continue;
          killed.add(pid);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await sleep(20);
      }
      const { code, signal } = await c.exit;
      console.log(`cluster crash loop: ${killed.size} workers killed, primary exited ${code} after ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      expect(signal).toBeNull();
      expect(code).not.toBe(0);
      expect(c.log()).toMatch(/5 rapid failures in a row, giving up/);
      await sleep(500);
      expect([...killed].filter(alive)).toEqual([]);
    } finally {
      await cleanup(c);
    }
  }, 300_000);

  it('workers that cannot start say why and exit 1; the primary then gives up with exit 1', async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    const args = [join(ROOT, 'bin', 'reclab.js'), 'serve', '--models', join(dir, 'model'), '--db', 'sqlite:/dev/null/x.db', '--port', '0', '--workers', '2'];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const t0 = performance.now();
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const failed = err.match(/worker \d+ cannot start: .*/g) ?? [];
    console.log(`cluster start failures: ${failed.length} workers could not start ("${failed[0]}"), primary exited ${code} after ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(code).toBe(1);
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(err).toMatch(/exited \(code 1\)/);
    expect(err).toMatch(/giving up/);
  }, 300_000);

  it('starts 20 times on an empty SQLite file with every worker listening at its first try', async () => {
    const dir = tempDir();
    await writeWideBundle(join(dir, 'model'), 20_000);
    const failures: string[] = [];
    const seconds: number[] = [];
    for (let run = 0; run < 20; run++) {
      const t0 = performance.now();
      const c = await serveCluster(join(dir, 'model'), `sqlite:${join(dir, `fresh-${run}.db`)}`);
      seconds.push((performance.now() - t0) / 1000);
      c.child.kill('SIGTERM');
      const { code } = await c.exit;
      // A worker that failed at start is replaced and the cluster still comes up, so look at the log.
      const bad = c.log().split('\n').filter((l) => / cannot start| exited \(/.test(l));
      if (bad.length > 0 || code !== 0) failures.push(`run ${run} (exit ${code}): ${bad.join(' | ')}`);
    }
    console.log(`cluster fresh starts: 20 × 2 workers on empty SQLite files, listening after ${Math.min(...seconds).toFixed(1)}–${Math.max(...seconds).toFixed(1)} s; failed starts: ${failures.length}`);
    expect(failures).toEqual([]);
  }, 900_000);

  it('deletes 400 items under concurrent feedback without a 500', async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    let c: Cluster | undefined;
    try {
      c = await serveCluster(join(dir, 'model'), `sqlite:${join(dir, 'x.db')}`);
      const ids = range(400).map((i) => `del-${i}`);
      for (let i = 0; i < ids.length; i += 100) {
        const r = await call(`${c.url}/api/items`, 'POST', ids.slice(i, i + 100).map((id) => ({ ItemId: id, Categories: ['x'] })));
        expect(r.status).toBe(200);
      }
      const statuses = new Map<string, number>();
      const count = (what: string, status: number) => statuses.set(`${what} ${status}`, (statuses.get(`${what} ${status}`) ?? 0) + 1);
      let deleting = true;
      const feedback = range(4).map(async (f) => {
        for (let k = 0; deleting; k++) {
          const batch = range(10).map((e) => ({ FeedbackType: 'click', UserId: `fb-${f}`, ItemId: `del-${(k * 10 + e) % 400}` }));
          count('feedback', (await call(`${c!.url}/api/feedback`, 'POST', batch)).status);
        }
      });
      const queue = [...ids];
      const deleters = range(8).map(async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) count('delete', (await call(`${c!.url}/api/item/${id}`, 'DELETE')).status);
      });
      await Promise.all(deleters);
      deleting = false;
      await Promise.all(feedback);
      console.log(`cluster deletes under feedback: ${JSON.stringify(Object.fromEntries(statuses))}`);
      expect(statuses.get('delete 200')).toBe(400);
      expect([...statuses.keys()].filter((k) => Number(k.split(' ')[1]) >= 500)).toEqual([]);
      const left = await call(`${c.url}/api/items?n=1000`);
      expect((left.json.Items as { ItemId: string }[]).filter((it) => it.ItemId.startsWith('del-'))).toEqual([]);
    } finally {
      await cleanup(c);
    }
  }, 300_000);

  it('one PUT /api/model changes every worker; concurrent PUTs each get their own model; a replacement starts on the swapped-in model', async () => {
    const dir = tempDir();
    const models = join(dir, 'models');
    mkdirSync(models);
    await writeFixtureBundle(join(models, 'a'), 'pop');
    await writeEaseBundle(join(models, 'b'));
    let c: Cluster | undefined;
    try {
      c = await serveCluster(models, `sqlite:${join(dir, 'x.db')}`, ['--model', 'a']);
      const names = async (path = '/api/model') => (await fresh(c!, path)).map((r) => (path === '/api/model' ? r.json.Name : r.json.Model?.Name) as string);
      expect(new Set(await names())).toEqual(new Set(['pop']));

      const put = await call(`${c.url}/api/model`, 'PUT', { Name: 'b' });
      expect(put.status).toBe(200);
      expect(put.json.Name).toBe('ease');
      expect(await names()).toEqual(range(20).map(() => 'ease'));
      expect(await names('/api/recommend/u1?format=reclab')).toEqual(range(20).map(() => 'ease'));

      // A bundle that cannot be loaded: 400, and every worker keeps serving what it served.
      const bad = await call(`${c.url}/api/model`, 'PUT', { Name: 'nope' });
      expect(bad.status).toBe(400);
      expect(bad.json.message).toMatch(/model "nope" not found/);
      expect(await names()).toEqual(range(20).map(() => 'ease'));

      // Two PUTs at once: run one after the other, each caller answered with the model it asked for.
      const [toA, toB] = await Promise.all([call(`${c.url}/api/model`, 'PUT', { Name: 'a' }), call(`${c.url}/api/model`, 'PUT', { Name: 'b' })]);
      expect([toA.status, toA.json.Name, toB.status, toB.json.Name]).toEqual([200, 'pop', 200, 'ease']);
      const after = await names();
      expect(new Set(after).size).toBe(1);
      console.log(`cluster swap: after concurrent PUTs of a and b every worker answers with ${after[0]}`);

      // A worker that dies comes back on the model swapped in last, not the startup one (a, pop).
      expect((await call(`${c.url}/api/model`, 'PUT', { Name: 'b' })).status).toBe(200);
      const mark = c.log().length;
      process.kill(c.workers[0], 'SIGKILL');
      await c.waitFor(new RegExp(`worker \\d+ replaced ${c.workers[0]}`), mark);
      expect(await names()).toEqual(range(20).map(() => 'ease'));
    } finally {
      await cleanup(c);
    }
  }, 300_000);

  it("keeps users' histories in every worker's memory, and after each acknowledged write every worker answers from the store's new state", async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    let c: Cluster | undefined;
    try {
      c = await serveCluster(join(dir, 'model'), `sqlite:${join(dir, 'x.db')}`, ['--cache-size', '0']);
      const url = c.url;
      // Fresh connections: the primary hands them to the workers in turn, so 4 reads reach both.
      const history = async (u: string) => (await Promise.all(range(4).map(() => call(`${url}/api/user/${u}/feedback`)))).map((r) => (r.json as { ItemId: string }[]).map((e) => e.ItemId));
      const recommended = async (u: string) => (await Promise.all(range(4).map(() => call(`${url}/api/recommend/${u}?n=6`)))).map((r) => r.json as string[]);
      const stale: string[] = [];
      await Promise.all(
        ['h0', 'h1', 'h2'].map(async (u) => {
          const posted: string[] = [];
          for (const item of ['a', 'b', 'c', 'd', 'e']) {
            await history(u); // remembered by both workers (no write under way for u)
            await recommended(u);
            expect((await call(`${url}/api/feedback`, 'POST', [{ FeedbackType: 'click', UserId: u, ItemId: item }])).status).toBe(200);
            posted.push(item);
            for (const got of await history(u)) if (got.join() !== posted.join()) stale.push(`${u}: ${got.join()} after ${posted.join()}`);
            for (const got of await recommended(u)) if (got.some((i) => posted.includes(i))) stale.push(`${u}: recommended ${got.join()} after ${posted.join()}`);
          }
        }),
      );
      expect(stale).toEqual([]);
      const hits = (await Promise.all(range(4).map(() => call(`${url}/metrics`)))).map((r) => Number(/reclab_history_cache_total\{outcome="hit"\} (\d+)/.exec(String(r.json))?.[1]));
      console.log(`cluster history cache: hits per /metrics answer ${hits.join(', ')}`);
      expect(Math.min(...hits)).toBeGreaterThan(0); // both workers answered from memory
    } finally {
      await cleanup(c);
    }
  }, 300_000);

  it('holds the rate limit across workers: 60 requests at --rate-limit 20 let exactly 20 through', async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    let c: Cluster | undefined;
    try {
      c = await serveCluster(join(dir, 'model'), `sqlite:${join(dir, 'x.db')}`, ['--rate-limit', '20', '--api-key', 'secret']);
      const statuses = (await fresh(c, '/api/model', 60, { 'x-api-key': 'secret' })).map((r) => r.status);
      const passed = statuses.filter((s) => s === 200).length;
      console.log(`cluster rate limit: ${passed} of 60 passed at a limit of 20 per minute, ${statuses.filter((s) => s === 429).length} × 429`);
      expect(passed).toBe(20);
      expect(statuses.filter((s) => s === 429)).toHaveLength(40);
      expect(c.log()).not.toMatch(/counting in this worker/); // the primary counted every one
    } finally {
      await cleanup(c);
    }
  }, 300_000);

  it('SIGHUP reloads the model in every worker; SIGTERM drains every worker and the primary exits 0', async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'model'), 'pop');
    const path = join(dir, 'x.db');
    let c: Cluster | undefined;
    try {
      c = await serveCluster(join(dir, 'model'), `sqlite:${path}`);
      const mark = c.log().length;
      c.child.kill('SIGHUP');
      await c.waitFor(/all 2 workers now serve pop/, mark);
      for (const pid of c.workers) expect(c.log().slice(mark)).toMatch(new RegExp(`worker ${pid} now serves pop`));
      expect((await fresh(c, '/api/model')).map((r) => r.json.Swaps)).toEqual(range(20).map(() => 2));

      const acked: string[] = [];
      const statuses = new Set<number>();
      let stop = false;
      const client = async (n: number) => {
        for (let k = 0; !stop; k++) {
          const batch = range(10).map((e) => ({ FeedbackType: 'click', UserId: `t${n}`, ItemId: `t-${n}-${k}-${e}` }));
          try {
            const r = await call(`${c!.url}/api/feedback`, 'POST', batch);
            statuses.add(r.status);
            if (r.status === 200) acked.push(...batch.map((b) => b.ItemId));
          } catch {
            return; // the listener is closed
          }
        }
      };
      const load = range(4).map(client);
      while (acked.length < 500) await sleep(5);
      const t0 = performance.now();
      c.child.kill('SIGTERM');
      const { code } = await c.exit;
      stop = true;
      await Promise.all(load);
      console.log(`cluster SIGTERM: primary exited ${code} after ${((performance.now() - t0) / 1000).toFixed(2)} s, ${acked.length} events acknowledged`);
      expect(code).toBe(0);
      for (const pid of c.workers) expect(c.log()).toMatch(new RegExp(`worker ${pid}: SIGTERM, draining`));
      expect(c.log()).toMatch(/all workers drained; exiting/);
      for (const s of statuses) expect([200, 503]).toContain(s);
      const store = await openStore(`sqlite:${path}`);
      try {
        const stored = new Set<string>();
        for (let n = 0; n < 4; n++) for (const e of await store.userFeedback(`t${n}`, undefined, 100_000)) stored.add(e.item);
        expect(acked.filter((id) => !stored.has(id))).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await cleanup(c);
    }
  }, 300_000);
});
