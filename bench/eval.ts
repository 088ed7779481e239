/**
 * `npm run bench -- eval`: full-ranking evaluation speed on ML-1M (LOO), side by side with the
 * NumPy peer (`../shared/peers/fullrank_numpy.py`, OpenBLAS) doing the same work: all 6,040 users
 * scored against 3,416 items by a 64-d dot-product model, train + validation items excluded,
 * HR and NDCG at 10, 20, 50. Rounds alternate peer and ours so machine load hits both alike.
 * Prints one JSON line per case plus the ratio (goal ≤ 2.0× NumPy).
 *
 * Args: --rounds N (default 3), --runs N per round (default 5), --dim D (default 64), --block B
 * (users per scoring block, default 256).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { emit, median, SHARED, timeRuns } from './_util.ts';
import { concatInteractions } from '../src/data/interactions.ts';
import { loadDataset } from '../src/data/load.ts';
import { splitDataset } from '../src/data/split.ts';
import type { Interactions } from '../src/data/types.ts';
import type { Recommender } from '../src/models/recommender.ts';
import { Rng } from '../src/nn/rng.ts';
import { evaluate, usersWithTargets } from '../src/eval/evaluate.ts';
import { dotScores, gemmThreads, packPanels, type PackedItems } from '../src/eval/kernels.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const rounds = arg('rounds', 3);
const runs = arg('runs', 5);
const dim = arg('dim', 64);
// Users per scoring block (the evaluator's default; 256 measured faster here than the peer's 1024,
// whose 14 MB score block falls out of L2).
const block = arg('block', 256);

const dataPath = join(SHARED, 'datasets', 'ml-1m', 'ml-1m.txt');
if (!existsSync(dataPath)) {
  process.stderr.write(`bench eval: ${dataPath} not found; skipping\n`);
  process.exit(0);
}

/** A random dot-product model: score(u, i) = U[u] · V[i], computed by the blocked SIMD GEMM kernel. */
class DotModel implements Recommender {
  readonly name = 'dot';
  readonly config = { dim };
  private readonly packed: PackedItems;
  constructor(
    private readonly userEmb: Float32Array,
    itemEmb: Float32Array,
    readonly nItems: number,
  ) {
    this.packed = packPanels(itemEmb, nItems, dim);
  }
  async fit(): Promise<never> {
    throw new Error('DotModel is not trainable');
  }
  scoreUsers(users: Int32Array, _history: Interactions, out: Float32Array): void {
    dotScores(this.userEmb, users, this.packed, out);
  }
  async save(): Promise<void> {}
}

// The same data and split as the peer: SASRec-format ML-1M, leave-one-out (loading is not timed).
const dataset = await loadDataset({ source: dataPath, format: 'sasrec' });
const { train, valid, test } = splitDataset(dataset, { kind: 'loo' });
const nItems = dataset.nItems;
const nUsers = usersWithTargets(test).length;
const rng = new Rng(0);
const model = new DotModel(
  Float32Array.from({ length: dataset.nUsers * dim }, () => rng.normal()),
  Float32Array.from({ length: nItems * dim }, () => rng.normal()),
  nItems,
);
const data = { history: concatInteractions(train, valid), exclude: [train, valid], targets: test, train };
const metrics = ['hr@10', 'hr@20', 'hr@50', 'ndcg@10', 'ndcg@20', 'ndcg@50'];
let last: Record<string, number> = {};
const ours = async (): Promise<void> => {
  last = (await evaluate(model, data, { metrics, ties: 'optimistic', progress: false, blockSize: block })).metrics;
};

const peerScript = join(SHARED, 'peers', 'fullrank_numpy.py');
const numpyMedians: number[] = [];
const ourMedians: number[] = [];
for (let r = 0; r < rounds; r++) {
  const p = spawnSync('/usr/bin/python3', [peerScript, '--data', dataPath, '--dim', String(dim), '--repeat', String(runs)], { encoding: 'utf8' });
  if (p.status === 0) numpyMedians.push(JSON.parse(p.stdout.trim().split('\n').pop()!).median_s);
  else process.stderr.write(`bench eval: NumPy peer failed (run "bash ../shared/peers/setup.sh" as root): ${p.stderr.trim().split('\n').pop()}\n`);
  ourMedians.push(median(await timeRuns(ours, runs, r === 0 ? 2 : 1)));
}
const oursS = median(ourMedians);
emit('eval', 'fullrank-ml-1m', {
  users: nUsers,
  items: nItems,
  dim,
  block,
  threads: gemmThreads(),
  median_s: Number(oursS.toFixed(4)),
  round_medians_s: ourMedians.map((x) => Number(x.toFixed(4))),
  ...Object.fromEntries(Object.entries(last).map(([k, v]) => [k, Number(v.toFixed(4))])),
});
if (numpyMedians.length) {
  const np = median(numpyMedians);
  emit('eval', 'fullrank-ml-1m-numpy', { median_s: np, round_medians_s: numpyMedians });
  emit('eval', 'fullrank-ml-1m-ratio', { ratio_vs_numpy: Number((oursS / np).toFixed(2)), goal: 2.0 });
}
