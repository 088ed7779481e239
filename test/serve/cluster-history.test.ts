/**
 * Users' histories in memory across cluster workers (src/serve/cluster-history.ts): workers are
 * HistoryCaches over one SQLite store, linked through a HistoryHub as the primary links them over
 * IPC (in memory here: messages cross asynchronously, as copies). The store itself is the oracle:
 * after any write has resolved in any worker, every worker answers as the store does — and the
 * same scenario without the announcements does serve stale histories (the test can fail).
 */
import { describe, expect, it } from 'vitest';
import { ClusterHistory, HistoryHub } from '../../src/serve/cluster-history.ts';
import { Rpc, type RpcMessage } from '../../src/serve/cluster-rpc.ts';
import { HistoryCache } from '../../src/serve/history-cache.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { StoreUnavailableError, type FeedbackEvent, type Store } from '../../src/serve/store.ts';
import { Rng } from '../../src/util/rng.ts';
import { rpcPair } from './fixtures.ts';

const ev = (user: string, item: string, time: number, type = 'click'): FeedbackEvent => ({ type, user, item, value: 1, time });
const strip = (events: FeedbackEvent[]) => events.map(({ type, user, item, value, time }) => ({ type, user, item, value, time }));
const CAP = 6;

interface Member {
  rpc: Rpc;
}

/** A cluster in memory: a hub and `n` workers' caches over `inner`, each worker synced before use. */
async function cluster(inner: Store, n: number, opts: { linked?: boolean; ackMs?: number } = {}) {
  const unanswered: string[] = [];
  const hub = new HistoryHub<Member>((_m, why) => unanswered.push(why), opts.ackMs);
  const members: Member[] = [];
  const join = async (link = rpcPair()) => {
    const member = { rpc: link.a };
    members.push(member);
    hub.serve(member);
    const side = new ClusterHistory(link.b);
    await side.sync();
    const cache = new HistoryCache(inner, { cap: CAP, maxUsers: 4, maxEvents: 40 }, opts.linked === false ? undefined : side.peers);
    side.attach(cache);
    return { cache, member, link };
  };
  const workers = [];
  for (let w = 0; w < n; w++) workers.push(await join());
  return { hub, workers, join, unanswered };
}

/** Every worker's answer for every user, against the store's (returns the mismatches). */
async function stale(inner: Store, caches: HistoryCache[], users: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const [w, cache] of caches.entries()) {
    for (const u of users) {
      const got = strip(await cache.userFeedback(u, undefined, CAP));
      const want = strip(await inner.userFeedback(u, undefined, CAP));
      if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`worker ${w} user ${u}`);
    }
  }
  return bad;
}

/**
 * Random writes and reads from random workers, some awaited one by one and some overlapping;
 * after each step every worker is checked against the store. Returns the mismatches and the
 * memory hits.
 */
async function randomRun(linked: boolean, seed: number): Promise<{ bad: string[]; hits: number }> {
  const inner = await SqliteStore.open(':memory:').ready();
  const { workers } = await cluster(inner, 3, { linked });
  const caches = workers.map((w) => w.cache);
  const rng = new Rng(seed);
  const users = ['u0', 'u1', 'u2', 'u3', 'u4'];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.next() * xs.length)];
  const bad: string[] = [];
  let time = 0;
  const op = (): Promise<unknown> => {
    const cache = pick(caches);
    const r = rng.next();
    if (r < 0.3) return cache.insertFeedback([ev(pick(users), `i${Math.floor(rng.next() * 8)}`, time++, pick(['click', 'like']))], rng.next() < 0.5 ? 'insert' : 'upsert');
    if (r < 0.35) return cache.deleteFeedback({ user: pick(users), item: `i${Math.floor(rng.next() * 8)}` });
    if (r < 0.37) return cache.deleteUser(pick(users));
    return cache.userFeedback(pick(users), undefined, CAP);
  };
  try {
    for (let step = 0; step < 150; step++) {
      // One at a time, or several overlapping (reads racing writes in other workers).
      if (rng.next() < 0.5) await op();
      else await Promise.all(Array.from({ length: 2 + Math.floor(rng.next() * 4) }, op));
      for (const b of await stale(inner, caches, users)) bad.push(`step ${step}: ${b}`);
    }
    return { bad, hits: caches.reduce((s, c) => s + c.stats.hits, 0) };
  } finally {
    await inner.close();
  }
}

describe('history cache across cluster workers', () => {
  it('every worker answers as the store does after every write in any worker (random, overlapping)', async () => {
    for (const seed of [1, 2, 3]) {
      const { bad, hits } = await randomRun(true, seed);
      expect(bad, `seed ${seed}`).toEqual([]);
      expect(hits, `seed ${seed}: the memory path was exercised`).toBeGreaterThan(200);
    }
  });

  it('without the announcements the same run serves stale histories (the check above can fail)', async () => {
    const { bad } = await randomRun(false, 1);
    expect(bad.length).toBeGreaterThan(0);
  });

  it('a worker that joins during a write does not remember a read from before its commit', async () => {
    const inner = await SqliteStore.open(':memory:').ready();
    await inner.insertFeedback([ev('u', 'a', 1)], 'insert');
    // A store whose next insert waits for a gate: the write is under way while we look.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const held: Store = Object.create(inner, { insertFeedback: { value: async (...args: Parameters<Store['insertFeedback']>) => (await gate, inner.insertFeedback(...args)) } });
    const unanswered: string[] = [];
    const hub = new HistoryHub<Member>((_m, why) => unanswered.push(why));
    const sides = [rpcPair(), rpcPair()].map((link) => {
      hub.serve({ rpc: link.a });
      return new ClusterHistory(link.b);
    });
    try {
      await sides[0].sync();
      const writer = new HistoryCache(held, { cap: CAP }, sides[0].peers);
      sides[0].attach(writer);
      const writing = writer.insertFeedback([ev('u', 'b', 2)], 'insert');
      while (hub.writing === 0) await new Promise((r) => setImmediate(r));
      // The late worker syncs and starts while the write is under way.
      await sides[1].sync();
      const late = new HistoryCache(inner, { cap: CAP }, sides[1].peers);
      sides[1].attach(late);
      expect((await late.userFeedback('u', undefined, CAP)).map((e) => e.item)).toEqual(['a']);
      open();
      await writing;
      expect((await late.userFeedback('u', undefined, CAP)).map((e) => e.item)).toEqual(['a', 'b']);
      expect(unanswered).toEqual([]);
    } finally {
      await inner.close();
    }
  });

  it('a worker that does not acknowledge in time fails the write before it starts (503) and is named for a restart', async () => {
    const inner = await SqliteStore.open(':memory:').ready();
    // The second worker's channel swallows everything the primary sends it.
    const deaf: Member = { rpc: new Rpc((_m: RpcMessage, done) => done(null)) };
    const { workers, unanswered, hub } = await cluster(inner, 1, { ackMs: 50 });
    hub.serve(deaf);
    // The deaf worker's sync reaches the hub (its answer is lost: the channel drops it).
    deaf.rpc.receive({ reclab: 'req', id: 1, method: 'history.sync', payload: null });
    await new Promise((r) => setImmediate(r));
    try {
      const error = await workers[0].cache.insertFeedback([ev('u', 'a', 1)], 'insert').catch((e: Error) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(unanswered).toHaveLength(1);
      expect(await inner.countFeedback()).toBe(0); // nothing was written
      expect(hub.writing).toBe(0);
    } finally {
      await inner.close();
    }
  });

  it('a writer that exits mid-write has its writes ended, so the others remember reads again', async () => {
    const inner = await SqliteStore.open(':memory:').ready();
    await inner.insertFeedback([ev('u', 'a', 1)], 'insert');
    const { hub, workers } = await cluster(inner, 2);
    try {
      // Worker 0 begins a write (as its cache does before writing) and exits before ending it.
      workers[0].member.rpc.receive({ reclab: 'req', id: 1, method: 'history.begin', payload: { users: ['u'] } });
      while (hub.writing === 0) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 10)); // worker 1 has taken the announcement
      await workers[1].cache.userFeedback('u', undefined, CAP);
      await workers[1].cache.userFeedback('u', undefined, CAP);
      expect(workers[1].cache.stats.hits).toBe(0); // a write is under way: nothing remembered
      hub.leave(workers[0].member);
      await new Promise((r) => setTimeout(r, 10));
      await workers[1].cache.userFeedback('u', undefined, CAP);
      await workers[1].cache.userFeedback('u', undefined, CAP);
      expect(workers[1].cache.stats.hits).toBe(1);
      expect(hub.writing).toBe(0);
    } finally {
      await inner.close();
    }
  });
});
