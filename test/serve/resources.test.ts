/**
 * Resource bounds under attack (issue 15, must-show 6, the parts a test can hold):
 * - the answer cache stays under its byte bound however many distinct requests arrive, and its
 *   byte estimate is not below what the entries really cost on the heap (so the bound holds for
 *   memory, not just for the estimate);
 * - slow clients — hundreds of connections dribbling a body — cannot keep a fresh client out:
 *   with the connection cap set below the number of slow connections (as a low descriptor
 *   limit forces), /health/live still answers, because each newcomer evicts the stalest waiter.
 * The RSS figure of the full attack is measured by `npm run bench -- serve-attack`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { buildApp, type Service } from '../../src/serve/app.ts';
import { openStore, type Store } from '../../src/serve/store.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir, writeWideBundle } from './fixtures.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('serve resource bounds', () => {
  let dir: string;
  let store: Store;

  beforeAll(async () => {
    dir = tempDir();
    await writeWideBundle(join(dir, 'wide'), 3000);
    store = await openStore(`sqlite:${join(dir, 'r.db')}`);
  });
  afterAll(async () => {
    await store.close();
  });

  it('keeps the answer cache under its byte bound, with an estimate that covers the real heap cost', async () => {
    const bound = 8 * 1024 * 1024;
    // Heap plus ArrayBuffer backing stores: the cache keeps its answers in typed arrays.
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const settle = () => {
      gc();
      gc();
    };
    /** Bytes retained per request over 300 distinct 1000-item requests, after a warm-up. */
    const retainedPerRequest = async (svc: Service, get: (svc: Service, k: number) => Promise<void>) => {
      for (let k = 0; k < 20; k++) await get(svc, 10_000 + k);
      settle();
      const heap0 = used();
      for (let k = 0; k < 300; k++) await get(svc, k);
      settle();
      return (used() - heap0) / 300;
    };
    const get = async (svc: Service, k: number) => {
      const res = await svc.app.inject({ method: 'GET', url: `/api/recommend/heavy?n=1000&exclude=z${k}&format=reclab` });
      expect(res.statusCode).toBe(200);
      const body = JSON.parse(res.body) as { Strategy: string; Items: unknown[] };
      expect(body.Strategy).toBe('model');
      expect(body.Items.length).toBe(1000);
    };
    // The cache's own cost: the same requests with the cache off and on.
    const off = await buildApp({ store, slot: new ModelSlot(dir), rateLimit: 0, engine: { cacheSize: 0 } });
    const svc = await buildApp({ store, slot: new ModelSlot(dir), rateLimit: 0, engine: { cacheBytes: bound } });
    try {
      await off.swapModel();
      await svc.swapModel();
      const baseline = await retainedPerRequest(off, get);
      const bytes0 = svc.engine.cacheStats.bytes;
      const heapPerEntry = (await retainedPerRequest(svc, get)) - baseline;
      const estimatePerEntry = (svc.engine.cacheStats.bytes - bytes0) / 320;
      console.log(`answer cache: ${(heapPerEntry / 1024).toFixed(1)} KiB retained per 1000-item answer (beyond ${(baseline / 1024).toFixed(1)} KiB without a cache), charged ${(estimatePerEntry / 1024).toFixed(1)} KiB`);
      expect(svc.engine.cachedAnswers).toBe(320);
      expect(estimatePerEntry).toBeGreaterThanOrEqual(heapPerEntry);
      // The attack: every request a new cache key.
      for (let k = 300; k < 1200; k++) await get(svc, k);
      console.log(`answer cache after 1220 distinct 1000-item answers: ${svc.engine.cachedAnswers} entries, ${(svc.engine.cacheStats.bytes / 1048576).toFixed(2)} MiB (bound ${bound / 1048576} MiB)`);
      expect(svc.engine.cacheStats.bytes).toBeLessThanOrEqual(bound);
      expect(svc.engine.cachedAnswers).toBeLessThan(1220);
      expect(svc.engine.cachedAnswers).toBeGreaterThanOrEqual(Math.floor(bound / estimatePerEntry) - 1);
      // The most recent answers are the ones kept (a repeat is a hit, an early one a miss).
      const hits = svc.engine.cacheStats.hits;
      await get(svc, 1199);
      expect(svc.engine.cacheStats.hits).toBe(hits + 1);
      await get(svc, 0);
      expect(svc.engine.cacheStats.hits).toBe(hits + 1);
    } finally {
      await svc.app.close();
      await off.app.close();
    }
  });

  describe('slow clients', () => {
    let svc: Service;
    let url: string;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      svc = await buildApp({ store, slot: new ModelSlot(dir), rateLimit: 0, maxConnections: 200 });
      await svc.swapModel();
      url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await svc.app.close();
    });

    it('600 slow-body connections do not keep /health/live out (cap 200: the stalest waiters are evicted)', async () => {
      const { port } = new URL(url);
      const dribble = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write(' ');
      }, 200);
      try {
        for (let k = 0; k < 600; k++) {
          const s = connect(Number(port), '127.0.0.1');
          s.on('error', () => {}); // evicted sockets are reset
          s.write(`POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[`);
          sockets.push(s);
          if (k % 100 === 99) await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 200));
        const statuses: number[] = [];
        for (let probe = 0; probe < 5; probe++) {
          const res = await fetch(`${url}/health/live`, { headers: { connection: 'close' } });
          statuses.push(res.status);
          await res.text();
        }
        console.log(`slow clients: 600 opened, ${svc.connections.open} open, ${svc.connections.evicted} evicted; /health/live → ${statuses.join(',')}`);
        expect(statuses).toEqual([200, 200, 200, 200, 200]);
        // At least the connections past the cap were pushed out (some may still sit in the accept backlog).
        expect(svc.connections.evicted).toBeGreaterThanOrEqual(200);
        expect(svc.connections.open).toBeLessThanOrEqual(201);
      } finally {
        clearInterval(dribble);
      }
    });
  });
});
