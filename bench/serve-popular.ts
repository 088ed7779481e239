/**
 * Popular-list refreshes over a big event log, and whether the HTTP event loop keeps answering
 * meanwhile (issue 15: at 2M events the refresh grouped the whole log for 700–750 ms on the
 * event loop, and /health/live waited for it).
 *
 *   npm run bench -- serve-popular [--events 2000000] [--items 20000] [--users 50000] [--refreshes 20] [--scans 5]
 *                                  [--db <file>]
 *
 * Fills a SQLite store with --events feedback events through the store (chunks of 50,000, each
 * one transaction), serves it in this process on a local port, and while a client loop in this
 * process sends GET /health/live back to back (its latency includes any time the event loop was
 * blocked) runs each case. With --db, the file is kept, and a file that already holds events is
 * not filled again (e.g. one written by an older reclab: `open` then includes its migration).
 * - `open`: opening the file (`seconds`);
 * - `fill`: the fill itself (events_per_s);
 * - `idle`: /health/live with nothing else running (the baseline);
 * - `counts`: `store.itemCounts()` back to back, --refreshes times — the counters alone;
 * - `refresh_counters`: `engine.popularList(true)` back to back, --refreshes times — the service's
 *   refresh: the counters, then the merge with the model's popularity and the sort (this thread);
 * - `refresh_scan`: the same counts by scanning the event log (`itemCounts(types, -Infinity)`),
 *   --scans times: the query every refresh ran before the counters — still slow, but now on the
 *   store's thread.
 * Figures: `p50_ms`, `p99_ms`, `max_ms` of /health/live during the case, `refresh_p50_ms` /
 * `refresh_max_ms` of the refreshes, `health_requests` measured, and the event loop's own delay
 * (`loop_p99_ms`, `loop_max_ms`, node:perf_hooks at 1 ms resolution), which separates a blocked
 * loop from a client that was merely slow to get a CPU on a busy machine (`load_avg` says how busy).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { emit, flag, median } from './_util.ts';
import { Rng } from '../src/util/rng.ts';
import { IdMap } from '../src/data/types.ts';
import { fromSequences } from '../src/data/interactions.ts';
import { Pop } from '../src/models/pop.ts';
import { saveBundle } from '../src/serve/bundle.ts';
import { ModelSlot } from '../src/serve/slot.ts';
import { buildApp } from '../src/serve/app.ts';
import { SqliteStore } from '../src/serve/store-sqlite.ts';
import type { FeedbackEvent } from '../src/serve/store.ts';

const nEvents = Number(flag('events', '2000000'));
const nItems = Number(flag('items', '20000'));
const nUsers = Number(flag('users', '50000'));
const keep = flag('db', '');
const refreshes = Number(flag('refreshes', '20'));
const scans = Number(flag('scans', '5'));
const CHUNK = 50_000;

/** The q-quantile of sorted `xs` (nearest rank). */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const ms = (x: number) => Math.round(x * 100) / 100;

/** A full garbage collection now, so that the fill's garbage is not collected inside a case. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-popular-'));
const opening = performance.now();
const store = SqliteStore.open(keep ? resolve(keep) : join(dir, 'popular.db'));
try {
  await store.ready();
  const held = await store.countFeedback();
  emit('serve-popular', 'open', { events: held, seconds: ms((performance.now() - opening) / 1000) });
  // ---- a small popularity bundle over the same catalogue (the service needs a model)
  const raw = Array.from({ length: nItems }, (_, i) => `item-${i}`);
  const itemIds = IdMap.fromRaw(raw);
  const sequences = Array.from({ length: 50 }, (_, u) => Array.from({ length: 20 }, (_, k) => (u * 37 + k * 101) % nItems));
  const userIds = IdMap.fromRaw(sequences.map((_, u) => `model-user-${u}`));
  const history = fromSequences(sequences, nItems);
  const model = new Pop();
  await model.fit(history, { seed: 1 });
  const bundle = join(dir, 'model');
  await model.save(bundle);
  await saveBundle(bundle, { name: 'bench', fingerprint: 'bench', userIds, itemIds, history, itemCategories: raw.map(() => []) });

  // ---- fill: a skewed item distribution (a few items get most events), two event types
  const rng = new Rng(15);
  const t0 = performance.now();
  for (let done = held > 0 ? nEvents : 0; done < nEvents; done += CHUNK) {
    const events: FeedbackEvent[] = [];
    for (let k = done; k < Math.min(nEvents, done + CHUNK); k++) {
      const u = rng.next();
      events.push({ type: rng.int(5) === 0 ? 'like' : 'click', user: `user-${rng.int(nUsers)}`, item: raw[Math.floor(nItems * u * u * u)], value: 1, time: 1.7e9 + k });
    }
    await store.insertFeedback(events, 'insert');
  }
  const fillS = (performance.now() - t0) / 1000;
  if (held === 0) emit('serve-popular', 'fill', { events: await store.countFeedback(), items: nItems, users: nUsers, seconds: ms(fillS), events_per_s: Math.round(nEvents / fillS) });
  collectGarbage();

  // ---- the service, in this process: a blocked event loop shows in the health latencies
  const service = await buildApp({ store, slot: new ModelSlot(bundle), rateLimit: 0 });
  await service.swapModel();
  const url = await service.app.listen({ port: 0, host: '127.0.0.1' });
  try {
    /** Runs `work` while /health/live is polled back to back; returns the latencies and `work`'s durations. */
    const measure = async (work: () => Promise<number[]>) => {
      const latencies: number[] = [];
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      // Let its timer tick once: it measures from its last tick, so a block before that is lost.
      await new Promise((r) => setTimeout(r, 5));
      let running = true;
      const poll = (async () => {
        while (running) {
          const a = performance.now();
          const res = await fetch(`${url}/health/live`);
          await res.text();
          latencies.push(performance.now() - a);
        }
      })();
      const durations = await work();
      running = false;
      await poll;
      // One more turn: a loop blocked until now records its delay when its timer fires.
      await new Promise((r) => setTimeout(r, 5));
      loop.disable();
      latencies.sort((x, y) => x - y);
      return {
        health_requests: latencies.length,
        p50_ms: ms(quantile(latencies, 0.5)),
        p99_ms: ms(quantile(latencies, 0.99)),
        max_ms: ms(latencies[latencies.length - 1]),
        loop_p99_ms: ms(loop.percentile(99) / 1e6),
        loop_max_ms: ms(loop.max / 1e6),
        load_avg: Math.round(loadavg()[0] * 10) / 10,
        durations,
      };
    };
    const timed = async (fn: () => Promise<unknown>, times = refreshes): Promise<number[]> => {
      const out: number[] = [];
      for (let r = 0; r < times; r++) {
        const a = performance.now();
        await fn();
        out.push(performance.now() - a);
      }
      return out;
    };
    const report = (caseName: string, m: Awaited<ReturnType<typeof measure>>, extra: Record<string, unknown> = {}) => {
      const { durations, ...health } = m;
      emit('serve-popular', caseName, {
        events: held || nEvents,
        ...health,
        ...(durations.length > 0 ? { refreshes: durations.length, refresh_p50_ms: ms(median(durations)), refresh_max_ms: ms(Math.max(...durations)) } : {}),
        ...extra,
      });
    };

    await service.engine.popularList(true); // warm-up: JIT, statement cache, page cache
    report('idle', await measure(() => new Promise((r) => setTimeout(() => r([]), 2000))));
    report('counts', await measure(() => timed(() => store.itemCounts())));
    let listed = 0;
    report(
      'refresh_counters',
      await measure(() => timed(async () => (listed = (await service.engine.popularList(true)).length))),
      { popular_items: listed },
    );
    report('refresh_scan', await measure(() => timed(() => store.itemCounts(undefined, -Infinity), scans)));
  } finally {
    await service.app.close();
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
