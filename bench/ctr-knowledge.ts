/**
 * Serving cost of pre-stored knowledge (issue 21, must-show 5): the latency of one recommendation
 * request by the same model trained without knowledge and with it, served from pre-stored vectors
 * (no LLM, no text encoder). Requests alternate between the two models (A/B/A/B…) so load on the
 * machine hits both alike (the order within a request alternates too); each case prints one JSON
 * line with the medians and the overhead.
 *
 * - CTR cases (`deepfm`, `din`, any CTR model name) on ML-100K: 100 candidate items for one user,
 *   with the user's fields and last 30 behaviours. With knowledge, the adaptor outputs r̂_u, f̂_i
 *   are written to a vectors file and read back, and the model reads two rows per candidate.
 * - `sasrec` on ML-1M (ml-1m.txt): next-item scores over all 3,416 items for one user's last 200
 *   items, then the top 10 unseen. With knowledge, the adapted item table Ẽ = E + f̂(K) is built
 *   once (before the first request) and requests read it as the plain model reads E. The models
 *   are the trained ones of examples/sasrec-knowledge-ml1m.ts when present (`--sasrec-models`),
 *   else freshly initialised (latency does not depend on the weights' values).
 *
 *   npm run bench -- ctr-knowledge [--cases deepfm,din,sasrec] [--requests 300]
 *     [--ml100k ../shared/datasets/ml-100k] [--vectors runs/knowledge/ml-100k-offline-individual.rkv]
 *     [--ml1m ../shared/datasets] [--sasrec-models runs/sasrec-knowledge-ml1m]
 *     [--sasrec-vectors runs/knowledge/ml-1m-sasrec-items-offline.rkv]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCtrMovieLens100k, ctrSplitEvents } from '../src/data/ctr.ts';
import { knowledgeTables, loadKnowledgeVectors, saveKnowledgeVectors } from '../src/data/ctr-knowledge.ts';
import { loadDataset } from '../src/data/load.ts';
import { candidateBatch } from '../src/models/ctr/batch.ts';
import { createCtrModel } from '../src/models/ctr/registry.ts';
import { SASRec } from '../src/models/sasrec.ts';
import { topK } from '../src/models/topk.ts';
import { Rng } from '../src/util/rng.ts';

const { values: opt } = parseArgs({
  options: {
    cases: { type: 'string', default: 'deepfm,din,sasrec' },
    requests: { type: 'string', default: '300' },
    ml100k: { type: 'string', default: '../shared/datasets/ml-100k' },
    vectors: { type: 'string', default: 'runs/knowledge/ml-100k-offline-individual.rkv' },
    ml1m: { type: 'string', default: '../shared/datasets' },
    'sasrec-models': { type: 'string', default: 'runs/sasrec-knowledge-ml1m' },
    'sasrec-vectors': { type: 'string', default: 'runs/knowledge/ml-1m-sasrec-items-offline.rkv' },
  },
});
const nRequests = Number(opt.requests);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Times `a` and `b` on the same requests, twice; the second round is kept. The order within a
 * request alternates (A B, then B A …), so neither side always runs second on warm caches.
 */
function abTimes(n: number, a: (r: number) => void, b: (r: number) => void): { a: number; b: number } {
  const ta: number[] = [];
  const tb: number[] = [];
  const time = (f: (r: number) => void, r: number, into: number[] | null): void => {
    const t = performance.now();
    f(r);
    into?.push(performance.now() - t);
  };
  for (let rep = 0; rep < 2; rep++) {
    for (let r = 0; r < n; r++) {
      const first = r % 2 === 0;
      time(first ? a : b, r, rep ? (first ? ta : tb) : null);
      time(first ? b : a, r, rep ? (first ? tb : ta) : null);
    }
  }
  return { a: median(ta), b: median(tb) };
}

function report(fields: Record<string, unknown>, t: { a: number; b: number }): void {
  process.stdout.write(`${JSON.stringify({ bench: 'ctr-knowledge', ...fields, requests: nRequests, withoutMs: +t.a.toFixed(4), withMs: +t.b.toFixed(4), overheadPct: +(((t.b - t.a) / t.a) * 100).toFixed(2) })}\n`);
}

async function ctrCase(name: string): Promise<void> {
  const vecPath = opt.vectors!;
  if (!existsSync(vecPath)) throw new Error(`${vecPath}: build it first (reclab run examples/ctr-ml100k.yaml --seeds=[0], or reclab knowledge build)`);
  const ds = buildCtrMovieLens100k(opt.ml100k!);
  const train = ctrSplitEvents(ds, 0);
  const test = ctrSplitEvents(ds, 2);
  const v = loadKnowledgeVectors(vecPath);
  const k = knowledgeTables(v, ds.users.map((u) => u.rawId), ds.items.map((i) => i.rawId));
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
  const requests = Array.from({ length: nRequests }, () => {
    const e = test[rng.int(test.length)];
    return candidateBatch(ds, e, Int32Array.from({ length: 100 }, () => rng.int(ds.nItems)));
  });
  const t = abTimes(nRequests, (r) => plain.predictBatch(requests[r]), (r) => kar.predictBatch(requests[r], served));
  report({ case: name, data: 'ml-100k', request: '100 candidates, user fields + last 30 behaviours', knowledge: 'pre-stored KAR adaptor outputs (user + item)' }, t);
}

async function sasrecCase(): Promise<void> {
  const ds = await loadDataset({ source: join(opt.ml1m!, 'ml-1m', 'ml-1m.txt'), format: 'sasrec', name: 'ml-1m-sasrec' });
  const dir = opt['sasrec-models']!;
  const trained = (variant: string): string => join(dir, `${variant}-s0`, 'model');
  let plain: SASRec;
  let know: SASRec;
  let weights: string;
  if (existsSync(join(trained('plain'), 'model.json')) && existsSync(join(trained('knowledge'), 'model.json'))) {
    plain = await SASRec.load(trained('plain'));
    know = await SASRec.load(trained('knowledge'));
    weights = `trained (${dir})`;
  } else {
    const cfg = { hidden: 50, blocks: 2, heads: 1, maxLen: 200, epochs: 0 };
    const vp = opt['sasrec-vectors']!;
    const dim = existsSync(vp) ? loadKnowledgeVectors(vp).dim : 512;
    const rngK = new Rng(3);
    const K = existsSync(vp)
      ? knowledgeTables(loadKnowledgeVectors(vp), [], ds.itemIds.toArray()).item
      : Float32Array.from({ length: ds.nItems * dim }, () => rngK.normal());
    plain = new SASRec(cfg);
    await plain.fit(ds, { seed: 0, progress: false });
    know = new SASRec({ ...cfg, knowledgeDim: dim });
    know.setItemKnowledge(K);
    await know.fit(ds, { seed: 0, progress: false });
    weights = `initialised, not trained (vectors ${existsSync(vp) ? vp : 'random'})`;
  }
  const n = ds.nItems;
  const rng = new Rng(7);
  const users = Array.from({ length: nRequests }, () => rng.int(ds.nUsers));
  const history = users.map((u) => ds.items.subarray(ds.offsets[u], ds.offsets[u + 1] - 1));
  const scores = new Float32Array(n);
  const recommend = (m: SASRec, r: number): void => {
    m.scoreSequence(history[r], scores);
    const seen = new Set(history[r]);
    topK(scores, 10, (i) => seen.has(i));
  };
  // the adapted table is built here, before the timed requests (as a server does once at load)
  recommend(know, 0);
  const t = abTimes(nRequests, (r) => recommend(plain, r), (r) => recommend(know, r));
  report({ case: 'sasrec', data: 'ml-1m.txt', request: `scores over ${n} items for the last 200 items, top 10 unseen`, knowledge: `item knowledge folded into the item table at load (knowledgeDim ${know.config.knowledgeDim})`, weights }, t);
}

for (const name of opt.cases!.split(',')) {
  if (name === 'sasrec') await sasrecCase();
  else await ctrCase(name);
}
process.exit(0);
