/* global console */
// The worked example of docs/library.md, run as a user would run it: plain Node, `reclab`
// installed from the packed tarball (test/package/pack.test.ts copies this file next to it).
// It prints one JSON line per model, then the comparison of EASE against Pop.
import { generateSynthetic, splitDataset, describeDataset, createModel, evalViews, evaluate, pairedTTest } from 'reclab';

// A realistic synthetic log (clustered tastes, popularity skew, sequential habits), seeded.
const dataset = generateSynthetic({ users: 600, items: 800, interactions: 30_000, seed: 7 });
const stats = describeDataset(dataset);
console.log(JSON.stringify({ dataset: dataset.name, users: stats.users, items: stats.items, interactions: stats.interactions }));

// Leave-one-out: each user's last event is the test target, the one before it validation.
const split = splitDataset(dataset, { kind: 'loo' });
const views = evalViews(split); // the one valid/test rule: test history = train ∪ valid, both excluded

const metrics = ['hr@10', 'ndcg@10', 'recall@20'];
const results = {};
for (const [name, config] of [
  ['pop', {}],
  ['ease', { lambda: 200 }],
  ['sasrec', { epochs: 1, maxLen: 50, hidden: 32, batchSize: 128 }],
]) {
  const model = createModel(name, config);
  const fit = await model.fit(split.train, { seed: 1, progress: false });
  const result = await evaluate(model, views.test, { protocol: 'full', metrics, progress: false });
  results[name] = result;
  console.log(JSON.stringify({ model: name, epochs: fit.epochs, ...result.metrics, protocol: result.protocol.candidates, excluded: result.protocol.excluded }));
}

// Is EASE better than Pop on this data? A paired test over the same users.
const t = pairedTTest(results.ease.perUser['ndcg@10'], results.pop.perUser['ndcg@10']);
console.log(JSON.stringify({ compare: 'ease vs pop', metric: 'ndcg@10', p: t.p }));
