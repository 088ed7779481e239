import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LLMClient, ScriptedProvider } from '../llm/index.ts';
import { buildLiberKnowledge, fusePartitions, LiberProfiler, LlmLiberSource, OfflineLiberSource, type LiberEvent } from './liber.ts';

const tmp = mkdtempSync(join(tmpdir(), 'reclab-liber-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const K = 8;
const events = (n: number, t0 = 1_000_000): LiberEvent[] =>
  Array.from({ length: n }, (_, k) => ({ time: t0 + 3600 * k, title: `Film ${k}`, rating: 1 + (k % 5), genres: [k % 2 ? 'Drama' : 'Comedy'] }));

function spy(): { provider: ScriptedProvider; client: LLMClient } {
  const provider = new ScriptedProvider('spy', (req) => `summary ${String(req.meta?.step)} of partition ${String(req.meta?.partition)}`);
  return { provider, client: new LLMClient(provider, { cacheDir: join(tmp, 'cache') }) };
}

describe('LIBER streaming partitions and cascaded summaries', () => {
  it('10·K events → exactly 10 partitions and 10 + 9 calls; K−1 more → none and no call', async () => {
    const { provider, client } = spy();
    const lib = new LiberProfiler(new LlmLiberSource(client), { K });
    const stream = events(11 * K);
    // streamed in uneven chunks, as events arrive
    for (let i = 0; i < 10 * K; i += 7) await lib.append('u1', stream.slice(i, Math.min(10 * K, i + 7)));
    expect(lib.partitions('u1').length).toBe(10);
    expect(provider.requests.length).toBe(10 + 9);
    expect(provider.requests.filter((r) => r.meta?.step === 'interests').length).toBe(10);
    expect(provider.requests.filter((r) => r.meta?.step === 'shift').length).toBe(9);
    const made = await lib.append('u1', stream.slice(10 * K, 11 * K - 1));
    expect(made.length).toBe(0);
    expect(lib.partitions('u1').length).toBe(10);
    expect(lib.pending('u1')).toBe(K - 1);
    expect(provider.requests.length).toBe(19);
    // the K-th event freezes the 11th partition: 2 more calls (interests + shift), nothing re-summarised
    await lib.append('u1', stream.slice(11 * K - 1, 11 * K));
    expect(provider.requests.length).toBe(21);
    expect(provider.requests.slice(19).every((r) => r.meta?.partition === 10)).toBe(true);
  });

  it('a second profiler over the same cache makes no provider call', async () => {
    const first = spy();
    await new LiberProfiler(new LlmLiberSource(first.client), { K }).append('u2', events(3 * K));
    const again = spy();
    const lib = new LiberProfiler(new LlmLiberSource(again.client), { K });
    await lib.append('u2', events(3 * K));
    expect(lib.calls).toBe(5);
    expect(again.provider.requests.length).toBe(0);
  });

  it('freezes by time when the cache spans more than maxSpanSeconds', async () => {
    const lib = new LiberProfiler(new OfflineLiberSource(), { K: 100, maxSpanSeconds: 3 * 3600 });
    await lib.append('u3', events(10));
    // events every hour: a partition closes when the 5th event is > 3 h after the cache's first
    expect(lib.partitions('u3').map((p) => p.events.length)).toEqual([4, 4]);
    expect(lib.pending('u3')).toBe(2);
  });

  it('leakage: each prompt quotes only its own partition, and fusion at t uses partitions frozen before t', async () => {
    const lib = new LiberProfiler(new OfflineLiberSource(), { K });
    const stream = events(5 * K);
    await lib.append('u4', stream);
    for (const c of lib.log) {
      const p = lib.partitions('u4')[c.partition];
      for (const t of c.quotedTimes) expect(t).toBeLessThanOrEqual(p.end);
      const text = c.messages.map((m) => m.content).join('\n');
      // no title from a later partition appears in this call's prompt
      for (const later of lib.partitions('u4').slice(c.partition + 1)) for (const e of later.events) expect(text.includes(`${e.title} [`)).toBe(false);
    }
    // fusion: with keys e_0, e_1 and a query equal to e_1, the partition frozen after t is ignored
    const k0 = Float32Array.from([1, 0]);
    const k1 = Float32Array.from([0, 1]);
    const ends = lib.partitions('u4').slice(0, 2).map((p) => p.end);
    const before1 = fusePartitions(k1, [k0, k1], ends, ends[0] + 1);
    expect(Array.from(before1)).toEqual([1, 0]);
    const both = fusePartitions(k1, [k0, k1], ends, ends[1] + 1);
    // softmax over scores 0 and 1/√2
    const w1 = Math.exp(1 / Math.SQRT2) / (1 + Math.exp(1 / Math.SQRT2));
    expect(both[1]).toBeCloseTo(w1, 6);
    expect(both[0]).toBeCloseTo(1 - w1, 6);
  });
});

describe('LIBER knowledge for CTR impressions (ML-100K)', async () => {
  const { existsSync } = await import('node:fs');
  const DIR = new URL('../../../shared/datasets/ml-100k', import.meta.url).pathname;
  it.skipIf(!existsSync(`${DIR}/u.data`))('partitions and calls per user as the cascade says; fusion at t uses only partitions frozen before t', async () => {
    const { buildCtrMovieLens100k } = await import('../data/ctr.ts');
    const { HashedNgramEmbedder } = await import('../llm/index.ts');
    const ds = buildCtrMovieLens100k(DIR);
    const K = 50;
    const emb = new HashedNgramEmbedder(32);
    const lk = await buildLiberKnowledge(ds, { K, source: new OfflineLiberSource(), embedder: emb, itemTexts: ds.items.map((i) => i.title) });
    let parts = 0;
    let calls = 0;
    for (let u = 0; u < ds.nUsers; u++) {
      const p = Math.floor((ds.seqOff[u + 1] - ds.seqOff[u]) / K);
      parts += p;
      calls += p > 0 ? 2 * p - 1 : 0;
    }
    expect(lk.partitions).toBe(parts);
    expect(lk.calls).toBe(calls);
    // an impression before the user's K-th behaviour has no frozen partition: zero vector
    const u = 0;
    const first = ds.seqOff[u];
    const e = [...Array(ds.nEvents).keys()].find((x) => ds.user[x] === u && ds.time[x] === ds.seqTime[first])!;
    const out = new Float32Array(32);
    lk.userOfEvent(e, ds.item[e], out, 0);
    expect(out.every((v) => v === 0)).toBe(true);
    // the user's last impression: every partition whose end is before it takes part (non-zero)
    const last = [...Array(ds.nEvents).keys()].filter((x) => ds.user[x] === u).at(-1)!;
    lk.userOfEvent(last, ds.item[last], out, 0);
    expect(out.some((v) => v !== 0)).toBe(true);
  });
});
