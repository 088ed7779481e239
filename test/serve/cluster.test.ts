/**
 * Cluster mode (`reclab serve --workers N`, issue 15): IPC requests, the restart policy, the shared
 * rate-limit counters and the model-swap coordinator, in memory.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Rpc, RpcFailure, type RpcMessage } from '../../src/serve/cluster-rpc.ts';
import { RestartPolicy } from '../../src/serve/cluster-restarts.ts';
import { WindowCounter, clusterRateLimitStore, serveRateLimit, type Hit } from '../../src/serve/cluster-ratelimit.ts';
import { ModelCoordinator, type ModelLabel, type SwapWorker } from '../../src/serve/cluster-models.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/** Two connected endpoints; messages cross asynchronously and as copies, as over a real channel. */
function rpcPair(): { a: Rpc; b: Rpc; cut(): void } {
  let open = true;
  const link = (to: () => Rpc) => (message: RpcMessage, done: (e: Error | null) => void) => {
    if (!open) return done(new Error('channel closed'));
    setImmediate(() => open && to().receive(structuredClone(message)));
    done(null);
  };
  const a: Rpc = new Rpc(link(() => b));
  const b: Rpc = new Rpc(link(() => a));
  return {
    a,
    b,
    cut() {
      open = false;
      a.close('cut');
      b.close('cut');
    },
  };
}

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
    // A route with its own limit counts apart from the global one, under the same name in every worker.
    const r1 = s1.child({ routeInfo: { method: 'GET', url: '/x' } });
    const r2 = s2.child({ routeInfo: { method: 'GET', url: '/x' } });
    expect((await incr(r1 as never)).current).toBe(1);
    expect((await incr(r2 as never)).current).toBe(2);

    // A primary that does not answer: counted in the worker, told once, the primary skipped meanwhile.
    const slow = rpcPair();
    slow.b.handle('ratelimit.incr', () => new Promise(() => {}));
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
