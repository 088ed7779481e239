/**
 * `npm run bench -- cf [--runs N] [--peer-runs N]`: collaborative-filtering figures on ML-1M
 * (SASRec preprocessing, leave-one-out).
 *
 * - `ease-ml-1m`: EASE fit (λ = 500) time, median of N runs, side by side with the NumPy peer
 *   (`../shared/peers/ease_numpy.py`, its own `fit_s`, median of N runs in this same invocation,
 *   runs alternating with ours),
 *   and HR@10 / NDCG@10 computed exactly as the peer does: scores from the train rows, test item
 *   ranked against all items except the user's train and validation items, ties in its favour.
 *   The figures under the Recommender contract (history = train ∪ valid at test time) are
 *   printed too, as `hr@10_history_tv` / `ndcg@10_history_tv`.
 * - `recommend-one-user`: one user's scores from a trained EASE plus top-10 with history
 *   exclusion, median over many users.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { concatInteractions } from '../src/data/interactions.ts';
import { loadDataset } from '../src/data/load.ts';
import { splitDataset } from '../src/data/split.ts';
import type { Interactions } from '../src/data/types.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { Ease } from '../src/models/ease.ts';
import { topK } from '../src/models/topk.ts';
import { Rng } from '../src/nn/rng.ts';
import { emit, hasShared, median, SHARED } from './_util.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg('runs', 3);
const peerRuns = arg('peer-runs', 3);

if (!hasShared()) {
  process.stderr.write('bench cf: ../shared/datasets not found; nothing to measure\n');
  process.exit(0);
}
const file = join(SHARED, 'datasets', 'ml-1m', 'ml-1m.txt');
const dataset = await loadDataset({ source: file, format: 'sasrec' }, {}, { cacheDir: false });
const { train, valid, test } = splitDataset(dataset, { kind: 'loo' });
const lambda = 500;

// Peer and ours alternate, one measurement at a time (two jobs on 2 cores distort each other;
// alternating spreads the other load of a shared machine evenly over both).
const peerFit: number[] = [];
let peer: Record<string, number> = {};
let peerOk = peerRuns > 0;
const fits: number[] = [];
let model: Ease | null = null;
for (let r = 0; r < Math.max(runs, peerRuns); r++) {
  if (peerOk && r < peerRuns) {
    try {
      const out = execFileSync('/usr/bin/python3', [join(SHARED, 'peers', 'ease_numpy.py'), '--data', file, '--lam', String(lambda)], { encoding: 'utf8' });
      peer = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
      peerFit.push(peer.fit_s);
    } catch (e) {
      peerOk = false;
      process.stderr.write(`bench cf: NumPy peer unavailable (${(e as Error).message.split('\n')[0]}); run bash ../shared/peers/setup.sh\n`);
    }
  }
  if (r < runs) {
    const m = new Ease({ lambda });
    const t0 = performance.now();
    await m.fit(train, { seed: 0, progress: false });
    fits.push((performance.now() - t0) / 1000);
    model = m;
  }
}
const ease = model!;
const peerProtocol = await evaluate(ease, { history: train, exclude: [train, valid], targets: test, train }, { metrics: ['hr@10', 'ndcg@10'], ties: 'optimistic', progress: false });
const history = concatInteractions(train, valid);
const contract = await evaluate(ease, { history, exclude: [train, valid], targets: test, train }, { metrics: ['hr@10', 'ndcg@10'], ties: 'optimistic', progress: false });
const fitS = median(fits);
const round = (x: number, d = 4): number => Number(x.toFixed(d));
emit('cf', 'ease-ml-1m', {
  fit_s: round(fitS, 3),
  'hr@10': round(peerProtocol.metrics['hr@10']),
  'ndcg@10': round(peerProtocol.metrics['ndcg@10']),
  ...(peerFit.length ? { peer_fit_s: round(median(peerFit), 3), 'peer_hr@10': peer['hr@10'], 'peer_ndcg@10': peer['ndcg@10'], ratio_vs_numpy: round(fitS / median(peerFit), 2) } : {}),
  'hr@10_history_tv': round(contract.metrics['hr@10']),
  'ndcg@10_history_tv': round(contract.metrics['ndcg@10']),
  runs,
  peer_runs: peerFit.length,
  users: peerProtocol.users.length,
  items: dataset.nItems,
});

// One user, as the server does it: score from the history row, mask history, take the top 10.
const n = ease.nItems;
const out = new Float32Array(n);
const mark = new Uint8Array(n);
const one = new Int32Array(1);
const rng = new Rng(1);
const recommendOne = (h: Interactions, u: number): Int32Array => {
  one[0] = u;
  ease.scoreUsers(one, h, out);
  const items = h.items.subarray(h.offsets[u], h.offsets[u + 1]);
  for (const i of items) mark[i] = 1;
  const best = topK(out, 10, (i) => mark[i] === 1).items;
  for (const i of items) mark[i] = 0;
  return best;
};
for (let w = 0; w < 200; w++) recommendOne(history, rng.int(history.nUsers));
const times: number[] = [];
let len = 0;
for (let t = 0; t < 2000; t++) {
  const u = rng.int(history.nUsers);
  len += history.offsets[u + 1] - history.offsets[u];
  const t0 = process.hrtime.bigint();
  recommendOne(history, u);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
emit('cf', 'recommend-one-user', {
  median_ms: round(median(times), 4),
  p99_ms: round(times[Math.floor(times.length * 0.99)], 4),
  model: 'ease',
  k: 10,
  users: times.length,
  mean_history: round(len / times.length, 1),
});
