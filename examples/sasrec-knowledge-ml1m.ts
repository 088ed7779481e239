/**
 * Issue 21, must-show 2: SASRec on ML-1M (SASRec's ml-1m.txt) with and without item knowledge
 * vectors, under `uni100` and `full`, with the long-tail test users (held-out item among the
 * bottom 80 % of items by training popularity) separately, and the paired significance of the
 * difference on the same users.
 *
 * Knowledge: KAR's item prompt per item, answered by the OFFLINE knowledge source (title, year,
 * genres from movies.dat through sas_to_original_items.txt — no LLM here), encoded by the text
 * embedder, and fed to SASRec through the gated-expert item adaptor (src/models/seq/item-knowledge.ts).
 *
 *   nice -n 10 node --import tsx examples/sasrec-knowledge-ml1m.ts --epochs 30 --seeds 0
 *
 * Options: --epochs N (default 30), --seeds 0,1 (default 0), --variants plain,knowledge,
 * --data DIR (default ../shared/datasets), --out DIR (default runs/sasrec-knowledge-ml1m),
 * --embedder auto|use|hashed|openai:<model>, --vectors FILE (a knowledge file to use instead of
 * building the offline one). Training checkpoints every epoch into OUT/<variant>-s<seed>/ckpt and
 * resumes from it when restarted; a finished model is saved and re-evaluated, not retrained.
 * Writes OUT/summary.json and prints the table (markdown) on stdout.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/load.ts';
import { splitDataset } from '../src/data/split.ts';
import { knowledgeTables, loadKnowledgeVectors } from '../src/data/ctr-knowledge.ts';
import { evalViews, stageCandidates } from '../src/experiment/data.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { parseProtocol } from '../src/eval/protocol.ts';
import { bootstrapDiffCI, pairedTTest } from '../src/eval/significance.ts';
import { buildItemKnowledge, movieLensItems } from '../src/knowledge/items.ts';
import { embedderFromSpec } from '../src/knowledge/embedders.ts';
import { OfflineKnowledgeSource } from '../src/knowledge/kar.ts';
import { SASRec } from '../src/models/sasrec.ts';
import type { Interactions } from '../src/data/types.ts';

const { values: opt } = parseArgs({
  options: {
    epochs: { type: 'string', default: '30' },
    seeds: { type: 'string', default: '0' },
    variants: { type: 'string', default: 'plain,knowledge' },
    data: { type: 'string', default: '../shared/datasets' },
    out: { type: 'string', default: 'runs/sasrec-knowledge-ml1m' },
    embedder: { type: 'string', default: 'auto' },
    vectors: { type: 'string' },
  },
});
const epochs = Number(opt.epochs);
const seeds = opt.seeds!.split(',').map(Number);
const variants = opt.variants!.split(',');
const log = (s: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const METRICS = ['ndcg@10', 'hr@10'];
/** The paper's ML-1M setting (as examples/seq-sasrec-ml1m.yaml), epochs from the command line. */
const BASE = { hidden: 50, blocks: 2, heads: 1, maxLen: 200, dropout: 0.2, batchSize: 128, lr: 0.001, loss: 'bce', negatives: 1, epochs };

const dataFile = join(opt.data!, 'ml-1m', 'ml-1m.txt');
if (!existsSync(dataFile)) throw new Error(`${dataFile} not found (--data names the folder holding ml-1m/ and ml-1m-raw-meta/)`);
const ds = await loadDataset({ source: dataFile, format: 'sasrec', name: 'ml-1m-sasrec' });
const split = splitDataset(ds, { kind: 'loo' });
const views = evalViews(split);
log(`ml-1m.txt: ${ds.nUsers} users, ${ds.nItems} items, ${ds.offsets[ds.nUsers]} events; leave-one-out`);

// ---- item knowledge vectors (offline source unless --vectors)
const vecPath = opt.vectors ?? 'runs/knowledge/ml-1m-sasrec-items-offline.rkv';
if (!existsSync(vecPath)) {
  if (opt.vectors) throw new Error(`${vecPath}: not found`);
  const items = movieLensItems(ds.itemIds.toArray(), join(opt.data!, 'ml-1m-raw-meta', 'movies.dat'), join(opt.data!, 'ml-1m', 'sas_to_original_items.txt'));
  await buildItemKnowledge(items, { source: new OfflineKnowledgeSource(), embedder: await embedderFromSpec(opt.embedder!), out: vecPath, dataset: 'ml-1m-sasrec', log });
}
const vectors = loadKnowledgeVectors(vecPath);
const table = knowledgeTables(vectors, [], ds.itemIds.toArray());
if (table.missing.items > 0) throw new Error(`${vecPath}: ${table.missing.items} of ${ds.nItems} items have no vector`);
log(`knowledge: ${vecPath} (${vectors.dim}-d; ${String(vectors.meta.description)})`);

// ---- long tail: items outside the top 20 % by training popularity; users whose test item is there
const pop = new Int32Array(ds.nItems);
for (const i of split.train.items) pop[i]++;
const byPop = Array.from(pop.keys()).sort((a, b) => pop[b] - pop[a] || a - b);
const isTail = new Uint8Array(ds.nItems).fill(1);
for (const i of byPop.slice(0, Math.round(0.2 * ds.nItems))) isTail[i] = 0;
const testItem = (t: Interactions, u: number): number => t.items[t.offsets[u]];

const uni = parseProtocol('uni100');
const cands = stageCandidates(uni, views, 0);

interface Row { variant: string; seed: number; protocol: string; users: number[]; perUser: Record<string, number[]>; seconds: number; trainSeconds: number; epochs: number }
const rows: Row[] = [];
for (const seed of seeds) {
  for (const variant of variants) {
    const dir = join(opt.out!, `${variant}-s${seed}`);
    const config = variant === 'knowledge' ? { ...BASE, knowledgeDim: vectors.dim } : { ...BASE };
    let model: SASRec;
    let trainSeconds = 0;
    if (existsSync(join(dir, 'model', 'model.json'))) {
      model = await SASRec.load(join(dir, 'model'));
      trainSeconds = JSON.parse(readFileSync(join(dir, 'train.json'), 'utf8')).seconds;
      log(`${variant} seed ${seed}: loaded the trained model from ${dir}/model`);
    } else {
      mkdirSync(dir, { recursive: true });
      model = new SASRec(config);
      if (variant === 'knowledge') model.setItemKnowledge(table.item);
      const t0 = performance.now();
      const report = await model.fit(split.train, {
        seed,
        progress: false,
        checkpoint: { dir: join(dir, 'ckpt') },
        onEpoch: (e) => {
          const s = (performance.now() - t0) / 1000;
          const done = e.epoch;
          log(`${variant} seed ${seed}: epoch ${done}/${epochs} loss ${e.loss.toFixed(4)} (${s.toFixed(0)} s this session; ETA ${((s / Math.max(1, done)) * (epochs - done)).toFixed(0)} s at most)`);
        },
      });
      trainSeconds = report.seconds;
      await model.save(join(dir, 'model'));
      writeFileSync(join(dir, 'train.json'), JSON.stringify({ seconds: report.seconds, epochs: report.epochs, history: report.history, config }, null, 1));
    }
    for (const protocol of ['uni100', 'full']) {
      const r = await evaluate(model, views.test, { protocol, metrics: METRICS, ties: 'pessimistic', candidates: protocol === 'uni100' ? cands.test : undefined, progress: false });
      rows.push({ variant, seed, protocol, users: Array.from(r.users), perUser: Object.fromEntries(METRICS.map((m) => [m, Array.from(r.perUser[m])])), seconds: r.seconds, trainSeconds, epochs: model.config.epochs });
      log(`${variant} seed ${seed} ${protocol}: ${METRICS.map((m) => `${m} ${r.metrics[m].toFixed(4)}`).join(', ')}`);
    }
  }
}

// ---- table
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const segments = { all: (_u: number) => true, 'long-tail': (u: number) => isTail[testItem(split.test, u)] === 1, head: (u: number) => isTail[testItem(split.test, u)] === 0 };
const summary: Record<string, unknown>[] = [];
const lines = ['| protocol | test users | n | metric | SASRec | SASRec + item knowledge | Δ | 95 % CI of Δ | paired t p |', '|---|---|---:|---|---:|---:|---:|---|---:|'];
for (const seed of seeds) {
  for (const protocol of ['uni100', 'full']) {
    const a = rows.find((r) => r.variant === 'plain' && r.seed === seed && r.protocol === protocol);
    const b = rows.find((r) => r.variant === 'knowledge' && r.seed === seed && r.protocol === protocol);
    for (const [seg, keep] of Object.entries(segments)) {
      for (const m of METRICS) {
        const pick = (r: Row | undefined): number[] => (r ? r.perUser[m].filter((_, k) => keep(r.users[k])) : []);
        const va = pick(a);
        const vb = pick(b);
        const rec: Record<string, unknown> = { seed, protocol, segment: seg, metric: m, n: Math.max(va.length, vb.length), plain: a ? mean(va) : null, knowledge: b ? mean(vb) : null };
        if (a && b) {
          const t = pairedTTest(vb, va);
          const ci = bootstrapDiffCI(vb, va, { seed: 1 });
          Object.assign(rec, { diff: mean(vb) - mean(va), p: t.p, ciLow: ci.low, ciHigh: ci.high });
        }
        summary.push(rec);
        const f = (x: unknown): string => (typeof x === 'number' ? x.toFixed(4) : '—');
        lines.push(`| ${protocol} | ${seg} | ${rec.n} | ${m} | ${f(rec.plain)} | ${f(rec.knowledge)} | ${rec.diff === undefined ? '—' : `${(rec.diff as number) >= 0 ? '+' : ''}${(rec.diff as number).toFixed(4)}`} | ${rec.ciLow === undefined ? '—' : `[${f(rec.ciLow)}, ${f(rec.ciHigh)}]`} | ${rec.p === undefined ? '—' : (rec.p as number).toPrecision(2)} |`);
      }
    }
  }
}
const train = rows.filter((r) => r.protocol === 'uni100').map((r) => ({ variant: r.variant, seed: r.seed, epochs: r.epochs, trainSeconds: r.trainSeconds }));
writeFileSync(join(opt.out!, 'summary.json'), JSON.stringify({ dataset: 'ml-1m.txt (SASRec preprocessing)', split: 'leave-one-out; test history = train + valid', ties: 'pessimistic', knowledge: { file: vecPath, dim: vectors.dim, meta: vectors.meta }, config: BASE, longTail: 'test item outside the top 20 % of items by training interactions', train, rows: summary }, null, 1));
process.stdout.write(`${lines.join('\n')}\n\ntraining: ${train.map((t) => `${t.variant} seed ${t.seed}: ${t.epochs} epochs, ${t.trainSeconds.toFixed(0)} s`).join('; ')}\n`);
process.exit(0);
