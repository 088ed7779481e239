/**
 * `npm run bench -- eval`: full-ranking evaluation speed on ML-1M (LOO), side by side with NumPy
 * + OpenBLAS doing the same work, peers and ours alternating round by round so machine load hits
 * both alike. Each case's line carries its own `ratio_vs_numpy` (ours / NumPy, medians).
 *
 * - `fullrank-ml-1m`: all 6,040 users scored against 3,416 items by a 64-d dot-product model with
 *   random factors, train + validation items excluded, HR and NDCG at 10, 20, 50; the peer is
 *   `../shared/peers/fullrank_numpy.py` (its own random factors: timing does not depend on values).
 * - `fullrank-ials-ml-1m`: an iALS model (d 64) fitted on the train split, evaluated through the
 *   model's own scoring path — what `reclab eval` runs: `evaluate(model, …)` with the test item
 *   ranked against every item, train + validation excluded (foldIn 'unseen': the trained user
 *   rows are scored as they are). The peer (`bench/peers/fullrank_factors.py`) ranks the very same
 *   factors and exclusions with NumPy; both print HR@10 / NDCG@10, which must agree.
 *
 * Args: --rounds N (default 3), --runs N per round (default 5), --dim D (default 64), --block B
 * (users per scoring block, default 256).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, median, SHARED, timeRuns } from './_util.ts';
import { concatInteractions } from '../src/data/interactions.ts';
import { loadDataset } from '../src/data/load.ts';
import { splitDataset } from '../src/data/split.ts';
import type { Interactions } from '../src/data/types.ts';
import type { DotProductModel, Recommender } from '../src/models/recommender.ts';
import { Ials } from '../src/models/ials.ts';
import { Rng } from '../src/nn/rng.ts';
import { evaluate, usersWithTargets } from '../src/eval/evaluate.ts';
import { ItemPanels, scoreDot } from '../src/kernels/score.ts';
import { kernelSetup } from '../src/kernels/runtime.ts';

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

/** A random dot-product model: score(u, i) = U[u] · V[i], scored and ranked on the kernel core. */
class DotModel implements Recommender, DotProductModel {
  readonly name = 'dot';
  readonly config = { dim };
  private readonly panels: ItemPanels;
  constructor(
    private readonly userEmb: Float32Array,
    itemEmb: Float32Array,
    readonly nItems: number,
  ) {
    this.panels = new ItemPanels(itemEmb, nItems, dim);
  }
  async fit(): Promise<never> {
    throw new Error('DotModel is not trainable');
  }
  itemPanels(): ItemPanels {
    return this.panels;
  }
  userVectors(users: Int32Array, _history: Interactions, out: Float32Array): void {
    for (let r = 0; r < users.length; r++) out.set(this.userEmb.subarray(users[r] * dim, users[r] * dim + dim), r * dim);
  }
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const v = new Float32Array(users.length * dim);
    this.userVectors(users, history, v);
    scoreDot(this.panels, v, users.length, out);
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

/** Runs a NumPy peer, returning its JSON line (or null, with a message, when it cannot run). */
function runPeer(script: string, args: string[]): Record<string, number> | null {
  const p = spawnSync('/usr/bin/python3', [script, ...args], { encoding: 'utf8' });
  if (p.status === 0) return JSON.parse(p.stdout.trim().split('\n').pop()!) as Record<string, number>;
  process.stderr.write(`bench eval: NumPy peer ${script} failed (run "bash ../shared/peers/setup.sh" as root): ${p.stderr.trim().split('\n').pop()}\n`);
  return null;
}

/** Rounds of (peer, ours) alternating; the case line with both medians and the ratio. */
async function compare(caseName: string, peer: () => Record<string, number> | null, ours: () => Promise<void>,
  figures: () => Record<string, unknown>): Promise<void> {
  const numpyMedians: number[] = [];
  const ourMedians: number[] = [];
  let peerLine: Record<string, number> | null = null;
  for (let r = 0; r < rounds; r++) {
    const p = peer();
    if (p) {
      numpyMedians.push(p.median_s);
      peerLine = p;
    }
    ourMedians.push(median(await timeRuns(ours, runs, r === 0 ? 2 : 1)));
  }
  const oursS = median(ourMedians);
  const line: Record<string, unknown> = {
    median_s: Number(oursS.toFixed(4)),
    round_medians_s: ourMedians.map((x) => Number(x.toFixed(4))),
    threads: kernelSetup().threads,
    fma: kernelSetup().fma,
    ...figures(),
  };
  if (numpyMedians.length) {
    const np = median(numpyMedians);
    line.numpy_median_s = Number(np.toFixed(4));
    line.numpy_round_medians_s = numpyMedians;
    if (peerLine?.['hr@10'] !== undefined) {
      line['numpy_hr@10'] = peerLine['hr@10'];
      line['numpy_ndcg@10'] = peerLine['ndcg@10'];
    }
    line.ratio_vs_numpy = Number((oursS / np).toFixed(2));
  }
  emit('eval', caseName, line);
}

const round4 = (m: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v.toFixed(4))]));

// Case 1: random factors, the peer's own random factors.
await compare('fullrank-ml-1m',
  () => runPeer(join(SHARED, 'peers', 'fullrank_numpy.py'), ['--data', dataPath, '--dim', String(dim), '--repeat', String(runs)]),
  ours, () => ({ users: nUsers, items: nItems, dim, block, ...round4(last) }));

// Case 2: a fitted iALS through its own scoring path; the peer ranks the same factors.
const ials = new Ials({ dim, epochs: 10, foldIn: 'unseen' });
await ials.fit(train, { seed: 0, progress: false });
const evalUsers = usersWithTargets(test);
const ialsMetrics = ['hr@10', 'ndcg@10'];
let ialsLast: Record<string, number> = {};
const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-eval-'));
try {
  const U = new Float32Array(evalUsers.length * dim);
  ials.userVectors(evalUsers, data.history, U);
  const off = new Int32Array(evalUsers.length + 1);
  const hist: number[] = [];
  evalUsers.forEach((u, r) => {
    const seen = new Set<number>();
    for (const v of [train, valid]) for (let p = v.offsets[u]; p < v.offsets[u + 1]; p++) seen.add(v.items[p]);
    seen.delete(test.items[test.offsets[u]]);
    hist.push(...seen);
    off[r + 1] = hist.length;
  });
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ users: evalUsers.length, items: nItems, dim }));
  writeFileSync(join(dir, 'U.f32'), U);
  writeFileSync(join(dir, 'V.f32'), ials.items);
  writeFileSync(join(dir, 'hist_off.i32'), off);
  writeFileSync(join(dir, 'hist.i32'), Int32Array.from(hist));
  writeFileSync(join(dir, 'test.i32'), Int32Array.from(evalUsers, (u) => test.items[test.offsets[u]]));
  await compare('fullrank-ials-ml-1m',
    () => runPeer(join(import.meta.dirname, 'peers', 'fullrank_factors.py'), ['--dir', dir, '--repeat', String(runs)]),
    async () => {
      ialsLast = (await evaluate(ials, data, { metrics: ialsMetrics, ties: 'optimistic', progress: false, blockSize: block })).metrics;
    },
    () => ({ users: evalUsers.length, items: nItems, dim, model: 'ials', foldIn: 'unseen', ...round4(ialsLast) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
