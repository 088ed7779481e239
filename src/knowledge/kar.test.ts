import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCtrMovieLens100k, type CtrDataset } from '../data/ctr.ts';
import { loadKnowledgeVectors } from '../data/ctr-knowledge.ts';
import { HashedNgramEmbedder, LLMClient, ScriptedProvider } from '../llm/index.ts';
import { buildKnowledge } from './build.ts';
import { buildKnowledgeRequests, estimatePlan, LlmKnowledgeSource, OfflineKnowledgeSource, runPlan, trainCutoff } from './kar.ts';

const DIR = new URL('../../../shared/datasets/ml-100k', import.meta.url).pathname;
const have = existsSync(`${DIR}/u.data`);
if (!have) console.warn(`kar.test: ${DIR} absent; the ML-100K knowledge tests are skipped`);
const tmp = mkdtempSync(join(tmpdir(), 'reclab-kar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let cached: CtrDataset | null = null;
const data = (): CtrDataset => (cached ??= buildCtrMovieLens100k(DIR));

/** A spy LLM: counts every provider call; answers with a fixed text naming the request. */
function spy(): { provider: ScriptedProvider; client: LLMClient } {
  const provider = new ScriptedProvider('spy', (req) => `knowledge for ${String(req.meta?.kind)} ${String(req.meta?.key)}`);
  return { provider, client: new LLMClient(provider, { cacheDir: join(tmp, 'cache'), concurrency: 8 }) };
}

describe.skipIf(!have)('KAR extraction on ML-100K: call counts with a spy client', () => {
  it('individual: exactly users + items calls; a second run 0 calls (cache); dry-run count = real count', async () => {
    const ds = data();
    const plan = buildKnowledgeRequests(ds, { mode: 'individual' });
    const dry = estimatePlan(plan);
    const { provider, client } = spy();
    const texts = await runPlan(plan, new LlmKnowledgeSource(client));
    expect(provider.requests.length).toBe(ds.nUsers + ds.nItems);
    expect(dry.calls).toBe(provider.requests.length);
    expect(dry.userCalls).toBe(ds.nUsers);
    expect(texts[plan.userRequest[0]]).toBe(`knowledge for user ${ds.users[0].rawId}`);
    // second run, same cache folder, fresh client: every answer from the cache
    const again = spy();
    await runPlan(buildKnowledgeRequests(ds, { mode: 'individual' }), new LlmKnowledgeSource(again.client));
    expect(again.provider.requests.length).toBe(0);
    expect(again.client.ledger.total().cachedCalls).toBe(ds.nUsers + ds.nItems);
  });

  it('collective: exactly one call per cluster, k from the budget; dry-run count = real count', async () => {
    const ds = data();
    const plan = buildKnowledgeRequests(ds, { mode: 'collective', budget: 60 });
    const users = plan.requests.filter((r) => r.kind === 'user-cluster');
    const items = plan.requests.filter((r) => r.kind === 'item-cluster');
    // budget split in proportion: round(60·943/2625) = round(21.55) = 22 user clusters, 38 item clusters (fewer only if k-means empties one)
    expect(users.length).toBeLessThanOrEqual(22);
    expect(items.length).toBeLessThanOrEqual(38);
    expect(users.length + items.length).toBeGreaterThan(50);
    expect(users.reduce((s, r) => s + r.members.length, 0)).toBe(ds.nUsers);
    expect(items.reduce((s, r) => s + r.members.length, 0)).toBe(ds.nItems);
    const { provider, client } = spy();
    await runPlan(plan, new LlmKnowledgeSource(client));
    expect(provider.requests.length).toBe(users.length + items.length);
    expect(estimatePlan(plan).calls).toBe(provider.requests.length);
  });

  it('leakage guard: no user prompt quotes a behaviour at or after its cutoff (individual and collective)', () => {
    const ds = data();
    const cutoff = trainCutoff(ds);
    for (const mode of ['individual', 'collective'] as const) {
      const plan = buildKnowledgeRequests(ds, { mode, budget: 60, maxHistory: 1000 });
      for (const r of plan.requests) {
        for (const t of r.quotedTimes) expect(t).toBeLessThan(cutoff);
        if (r.kind !== 'user') continue;
        // independent check on the text: no title the user rated at or after the cutoff appears
        const u = r.members[0];
        const text = r.messages.map((m) => m.content).join('\n');
        // (ML-100K lists a few films twice under one title: a title also rated before the cutoff may appear)
        const before = new Set<string>();
        for (let p = ds.seqOff[u]; p < ds.seqOff[u + 1]; p++) if (ds.seqTime[p] < cutoff) before.add(ds.items[ds.seqItem[p]].title);
        for (let p = ds.seqOff[u]; p < ds.seqOff[u + 1]; p++) {
          if (ds.seqTime[p] < cutoff) continue;
          const title = ds.items[ds.seqItem[p]].title;
          if (before.has(title)) continue;
          expect(text.includes(`- ${title} [`), `user ${r.key}: "${title}" rated at ${ds.seqTime[p]} ≥ cutoff ${cutoff}`).toBe(false);
        }
      }
    }
    // and every validation / test event is at or after the cutoff
    for (let e = 0; e < ds.nEvents; e++) if (ds.split[e] !== 0) expect(ds.time[e]).toBeGreaterThanOrEqual(cutoff);
  });

  it('offline source: vectors file keyed by raw id, labelled offline', async () => {
    const ds = data();
    const out = join(tmp, 'k.rkv');
    const { vectors } = await buildKnowledge(ds, { mode: 'individual', source: new OfflineKnowledgeSource(), embedder: new HashedNgramEmbedder(64), out });
    const back = loadKnowledgeVectors(out);
    expect(back.dim).toBe(64);
    expect(back.userIds.length).toBe(ds.nUsers);
    expect(Array.from(back.item.subarray(0, 64))).toEqual(Array.from(vectors.item.subarray(0, 64)));
    expect(String(back.meta.description)).toMatch(/OFFLINE/);
  });
});
