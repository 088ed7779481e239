/**
 * `reclab ids`: item ID tables for generative retrieval (src/models/genret).
 *
 *   reclab ids build <config.yaml> --scheme rqvae --text <u.item|movies.dat> [--item-map <file>] --out <ids.json>
 *   reclab ids build <config.yaml> --scheme rqvae --vectors <weights.safetensors> [--tensor item.weight] [--skip-rows 1] --out …
 *   reclab ids build <config.yaml> --scheme random|sequential|collaborative --out …
 *   reclab ids stats <ids.json>
 *   reclab ids coldstart <config.yaml> [--fraction 0.05] [--k 10] [--seed 0]
 *
 * The experiment file fixes the data (and so the dense item ids the table is keyed by) and the
 * split: sequential and collaborative IDs read the training events only. Text goes through the
 * offline embedder (Universal Sentence Encoder, else hashed n-grams): "title; genres".
 */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadExperiment } from '../../eval/config.ts';
import { setUpExperiment } from '../../experiment/setup.ts';
import { defaultEmbedder } from '../../llm/embed.ts';
import { loadSafetensors } from '../../nn/safetensors.ts';
import { RQVAE } from '../../models/genret/rqvae.ts';
import { idStats, loadIdTable, randomIds, saveIdTable, sequentialIds, withCollisionLevel, type IdStats, type IdTable } from '../../models/genret/ids.ts';
import { collaborativeIds } from '../../models/genret/collab.ts';
import type { Dataset } from '../../data/types.ts';
import { concatInteractions } from '../../data/interactions.ts';
import { createModel } from '../../models/registry.ts';
import { coldRecall, pickColdItems, withoutItems } from '../../models/genret/coldstart.ts';

interface BuildFlags {
  scheme: string;
  out: string;
  text?: string;
  itemMap?: string;
  embedder: string;
  vectors?: string;
  tensor: string;
  skipRows: string;
  levels: string;
  codebook: string;
  epochs: string;
  latent: string;
  hidden: string;
  batch: string;
  lr: string;
  seed: string;
}

/** Reads item text by raw id from MovieLens `u.item` (id|title|…|19 genre flags) or `movies.dat` (id::title::g1|g2). */
export function readItemText(path: string): Map<string, string> {
  if (!existsSync(path)) throw new Error(`--text: ${path} not found`);
  const text = new Map<string, string>();
  const lines = readFileSync(path, 'latin1').split('\n');
  const genres100k = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
    'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    if (line.includes('::')) {
      const f = line.split('::');
      if (f.length < 3) throw new Error(`${path}:${i + 1}: expected "id::title::genres", got ${f.length} fields`);
      text.set(f[0], `${f[1].trim()}; ${f[2].trim().split('|').join(', ')}`);
    } else {
      const f = line.split('|');
      if (f.length < 5 + genres100k.length) throw new Error(`${path}:${i + 1}: expected ${5 + genres100k.length} "|"-separated fields (u.item), got ${f.length}`);
      const g = genres100k.filter((_, k) => f[5 + k].trim() === '1');
      text.set(f[0], `${f[1].trim()}; ${g.join(', ')}`);
    }
  });
  return text;
}

/** Reads "datasetId originalId" lines (e.g. sas_to_original_items.txt). */
function readItemMap(path: string): Map<string, string> {
  if (!existsSync(path)) throw new Error(`--item-map: ${path} not found`);
  const map = new Map<string, string>();
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.trim().split(/\s+/);
    if (f.length !== 2) throw new Error(`${path}:${i + 1}: expected "datasetId originalId", got "${line}"`);
    map.set(f[0], f[1]);
  });
  return map;
}

/** Item vectors (n × dim) from item text, in dense item order. */
async function textVectors(dataset: Dataset, o: BuildFlags): Promise<{ x: Float32Array; dim: number; source: string; missing: number }> {
  const text = readItemText(o.text!);
  const map = o.itemMap ? readItemMap(o.itemMap) : null;
  let missing = 0;
  const texts = dataset.itemIds.toArray().map((raw) => {
    const t = text.get(map ? (map.get(raw) ?? '') : raw);
    if (t === undefined) missing++;
    return t ?? '';
  });
  const embedder = await defaultEmbedder(o.embedder as 'auto' | 'use' | 'hashed');
  process.stderr.write(`ids: embedding ${texts.length} item texts with ${embedder.name} (${missing} items without text)\n`);
  const rows = await embedder.embed(texts);
  const dim = rows[0]?.length ?? 0;
  const x = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => x.set(r, i * dim));
  return { x, dim, source: `text:${o.text} via ${embedder.name}`, missing };
}

/** Item vectors from a checkpoint's tensor (e.g. SASRec's item.weight, whose row 0 is padding). */
async function checkpointVectors(dataset: Dataset, o: BuildFlags): Promise<{ x: Float32Array; dim: number; source: string }> {
  const { tensors } = await loadSafetensors(o.vectors!);
  const t = tensors[o.tensor];
  if (!t) throw new Error(`${o.vectors}: no tensor "${o.tensor}" (has ${Object.keys(tensors).join(', ')})`);
  if (!(t.data instanceof Float32Array) || t.shape.length !== 2) throw new Error(`${o.vectors}: tensor "${o.tensor}" must be a 2-d F32 matrix`);
  const skip = Number(o.skipRows);
  const [rows, dim] = t.shape;
  if (rows - skip !== dataset.nItems) throw new Error(`${o.vectors}: tensor "${o.tensor}" has ${rows} rows − ${skip} skipped ≠ ${dataset.nItems} items of the data`);
  return { x: t.data.slice(skip * dim), dim, source: `vectors:${o.vectors}#${o.tensor}` };
}

function int(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** One-paragraph summary of a table's statistics. */
export function formatStats(s: IdStats): string {
  const usage = s.usage.map((u) => `level ${u.level}: ${u.used}/${u.of} codes used (perplexity ${u.perplexity.toFixed(1)})`).join('; ');
  const prefixes = s.prefixes.map((p) => `${p.length}: ${p.distinct} (${p.meanItems.toFixed(2)} items each)`).join(', ');
  return `${s.items} items, ${s.levels} codes per ID (collision level included)\n  ${usage}\n  `
    + `distinct semantic tuples ${s.distinctTuples}; colliding items ${s.collidingItems} (${((100 * s.collidingItems) / s.items).toFixed(1)} %), largest collision ${s.maxCollision}\n  `
    + `distinct prefixes by length ${prefixes}`;
}

async function build(configPath: string, o: BuildFlags): Promise<void> {
  const config = loadExperiment(configPath, []);
  const { dataset, split } = await setUpExperiment(config, { baseDir: dirname(resolve(configPath)) });
  const levels = int('levels', o.levels), K = int('codebook', o.codebook, 2), seed = int('seed', o.seed, 0);
  let table: IdTable;
  const t0 = performance.now();
  switch (o.scheme) {
    case 'random':
      table = randomIds(dataset.nItems, levels, K, seed);
      break;
    case 'sequential':
      table = sequentialIds(split.train, K);
      break;
    case 'collaborative':
      table = collaborativeIds(split.train, { K, levels, seed });
      break;
    case 'rqvae': {
      if (!o.text === !o.vectors) throw new Error('--scheme rqvae: give exactly one of --text (item text) or --vectors (a checkpoint\'s item vectors)');
      const src = o.text ? await textVectors(dataset, o) : await checkpointVectors(dataset, o);
      const epochs = int('epochs', o.epochs);
      const rq = new RQVAE({
        levels, codebookSize: K, latent: int('latent', o.latent), epochs, batchSize: int('batch', o.batch),
        hidden: o.hidden.split(',').map((h) => int('hidden', h)), lr: Number(o.lr),
      }, src.dim);
      const every = Math.max(1, Math.floor(epochs / 10));
      rq.fit(src.x, dataset.nItems, seed, (e) => {
        if (e.epoch % every === 0 || e.epoch === epochs) {
          const s = (performance.now() - t0) / 1000;
          process.stderr.write(`ids: rqvae epoch ${e.epoch}/${epochs} recon ${e.recon.toFixed(4)} quant ${e.quant.toFixed(4)} used [${e.used.join(', ')}] restarts ${e.restarts} (${s.toFixed(0)} s, ETA ${((s / e.epoch) * (epochs - e.epoch)).toFixed(0)} s)\n`);
        }
      });
      const { codes, latentError } = rq.codesOf(src.x, dataset.nItems);
      const last = rq.history.at(-1);
      table = withCollisionLevel(codes, dataset.nItems, levels, 'rqvae', new Array(levels).fill(K), {
        source: src.source, config: rq.cfg, finalRecon: last?.recon, latentError,
        restartsTotal: rq.history.reduce((a, e) => a + e.restarts, 0),
      });
      break;
    }
    default:
      throw new Error(`--scheme: expected rqvae, random, sequential or collaborative, got "${o.scheme}"`);
  }
  table.itemIds = dataset.itemIds.toArray();
  table.meta = { ...table.meta, data: dataset.name, fingerprint: dataset.fingerprint, split: split.protocol.description, seconds: (performance.now() - t0) / 1000 };
  saveIdTable(o.out, table);
  process.stdout.write(`${o.scheme} IDs → ${o.out} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n${formatStats(idStats(table))}\n`);
}

/**
 * The cold-start experiment: `fraction` of the items lose every train and valid event, each
 * model of the experiment file trains on the rest, and Recall@K is reported separately for test
 * events whose target is cold and for the others (one JSON line per model).
 */
async function coldstart(configPath: string, o: { fraction: string; k: string; seed: string; maxWarmUsers?: string }): Promise<void> {
  const config = loadExperiment(configPath, []);
  const { split } = await setUpExperiment(config, { baseDir: dirname(resolve(configPath)) });
  const seed = int('seed', o.seed, 0), k = int('k', o.k);
  const maxWarm = o.maxWarmUsers === undefined ? undefined : int('max-warm-users', o.maxWarmUsers);
  const cold = pickColdItems(split.test, Number(o.fraction), seed);
  const train = withoutItems(split.train, cold);
  const history = concatInteractions(train, withoutItems(split.valid, cold));
  const nCold = cold.reduce((a, c) => a + c, 0);
  process.stderr.write(`coldstart: ${nCold} of ${cold.length} items cold; ${split.train.items.length - train.items.length} training events removed\n`);
  for (const spec of config.models) {
    const label = spec.label ?? spec.name;
    const model = createModel(spec.name, spec.config ?? {});
    const t0 = performance.now();
    const fit = await model.fit(train, { seed: config.seeds[0] ?? 0 });
    const t1 = performance.now();
    const r = coldRecall(model, history, split.test, cold, k, (done, total) => {
      if (done % 500 === 0 || done === total) process.stderr.write(`coldstart: ${label} scored ${done}/${total} users\n`);
    }, { maxWarm, seed });
    process.stdout.write(`${JSON.stringify({ model: label, epochs: fit.epochs, fit_s: (t1 - t0) / 1000, score_s: (performance.now() - t1) / 1000, coldItems: nCold, ...r })}\n`);
  }
}

/** Registers `reclab ids`. */
export function register(program: Command): void {
  const ids = program.command('ids').description('item ID tables for generative retrieval (RQ-VAE, random, sequential, collaborative)');
  ids
    .command('build <config>')
    .description('build an ID table for the data of an experiment file')
    .requiredOption('--scheme <scheme>', 'rqvae, random, sequential or collaborative')
    .requiredOption('--out <file>', 'where to write the table (JSON)')
    .option('--text <file>', 'rqvae from item text: MovieLens u.item or movies.dat')
    .option('--item-map <file>', 'map the data\'s item ids to the text file\'s ("dataId originalId" lines, e.g. sas_to_original_items.txt)')
    .option('--embedder <kind>', 'text embedder: auto, use or hashed', 'auto')
    .option('--vectors <file>', 'rqvae from item vectors in a safetensors checkpoint')
    .option('--tensor <name>', 'the tensor holding item vectors', 'item.weight')
    .option('--skip-rows <n>', 'leading rows of the tensor that are not items (SASRec: 1, the padding row)', '1')
    .option('--levels <n>', 'semantic levels (before the collision level)', '3')
    .option('--codebook <n>', 'codes per level', '256')
    .option('--epochs <n>', 'RQ-VAE epochs', '200')
    .option('--latent <n>', 'RQ-VAE latent width', '32')
    .option('--hidden <list>', 'RQ-VAE encoder hidden widths', '256,128')
    .option('--batch <n>', 'RQ-VAE batch size', '1024')
    .option('--lr <x>', 'RQ-VAE learning rate', '0.001')
    .option('--seed <n>', 'seed', '0')
    .action(build);
  ids
    .command('coldstart <config>')
    .description('train the experiment\'s models with a fraction of items removed; Recall@K on test events of those items and of the rest')
    .option('--fraction <x>', 'fraction of items made cold', '0.05')
    .option('--k <n>', 'cut-off', '10')
    .option('--seed <n>', 'seed of the cold-item draw', '0')
    .option('--max-warm-users <n>', 'score every user with a cold target but only a seeded sample of this many of the others')
    .action(coldstart);
  ids
    .command('stats <file>')
    .description('print an ID table\'s statistics')
    .action((file: string) => {
      process.stdout.write(`${formatStats(idStats(loadIdTable(file)))}\n`);
    });
}
