/**
 * Serving cost of pre-stored knowledge (issue 21, must-show 5): the latency of scoring one
 * ranking request — 100 candidate items for one user, with the user's fields and last 30
 * behaviours — by the same CTR model trained without knowledge and with KAR knowledge served from
 * the pre-stored adaptor outputs (r̂_u, f̂_i written to a vectors file and read back; no LLM, no
 * encoder, no adaptor at serving). Requests alternate between the two models (A/B/A/B…) so load
 * on the machine hits both alike; the line reports medians and the ratio.
 *
 *   node --import tsx bench/ctr-knowledge.ts [ml-100k folder] [vectors.rkv] [model…]
 */
import { existsSync } from 'node:fs';
import { buildCtrMovieLens100k, ctrSplitEvents } from '../src/data/ctr.ts';
import { knowledgeTables, loadKnowledgeVectors, saveKnowledgeVectors } from '../src/data/ctr-knowledge.ts';
import { candidateBatch } from '../src/models/ctr/batch.ts';
import { createCtrModel } from '../src/models/ctr/registry.ts';
import { Rng } from '../src/util/rng.ts';

const [dir = '../shared/datasets/ml-100k', vecPath = 'runs/knowledge/ml-100k-offline-individual.rkv', ...names] = process.argv.slice(2);
if (!existsSync(vecPath)) throw new Error(`${vecPath}: build it first (reclab run examples/ctr-ml100k.yaml --seeds=[0], or reclab knowledge build)`);
const ds = buildCtrMovieLens100k(dir);
const train = ctrSplitEvents(ds, 0);
const test = ctrSplitEvents(ds, 2);
const v = loadKnowledgeVectors(vecPath);
const k = knowledgeTables(v, ds.users.map((u) => u.rawId), ds.items.map((i) => i.rawId));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const name of names.length ? names : ['deepfm', 'din']) {
  const plain = createCtrModel(name, { epochs: 1, batchSize: 128 });
  await plain.fit(ds, train, { seed: 0 });
  const kar = createCtrModel(name, { epochs: 1, batchSize: 128, knowledge: true });
  await kar.fit(ds, train, { seed: 0, knowledge: k });
  // pre-store r̂_u, f̂_i keyed by raw id, and serve from the file
  const aug = kar.augmentedVectors(k)!;
  const file = `runs/knowledge/${name}-kar-augmented.rkv`;
  saveKnowledgeVectors(file, { dim: aug.dim, userIds: v.userIds, itemIds: v.itemIds, user: aug.user, item: aug.item, meta: { description: `adaptor outputs of ${name}+KAR (from ${vecPath})` } });
  const stored = knowledgeTables(loadKnowledgeVectors(file), ds.users.map((u) => u.rawId), ds.items.map((i) => i.rawId));
  const served = { dim: k.dim, user: k.user, item: k.item, augmented: { dim: stored.dim, user: stored.user, item: stored.item } };
  const rng = new Rng(7);
  const requests = Array.from({ length: 300 }, () => {
    const e = test[rng.int(test.length)];
    return candidateBatch(ds, e, Int32Array.from({ length: 100 }, () => rng.int(ds.nItems)));
  });
  const ta: number[] = [];
  const tb: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    for (const b of requests) {
      let t = performance.now();
      plain.predictBatch(b);
      if (rep) ta.push(performance.now() - t);
      t = performance.now();
      kar.predictBatch(b, served);
      if (rep) tb.push(performance.now() - t);
    }
  }
  const a = median(ta);
  const b = median(tb);
  process.stdout.write(`ctr-serve ${name}: 100 candidates/request, ${ta.length} requests — without knowledge ${a.toFixed(3)} ms, with pre-stored KAR vectors ${b.toFixed(3)} ms (median), +${(((b - a) / a) * 100).toFixed(1)} %\n`);
}
process.exit(0);
