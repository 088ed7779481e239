/**
 * The CTR task behind `reclab run <file>` when the file says `task: ctr` (src/experiment/ctr.ts):
 * loads the config, makes sure the knowledge vectors exist when a model asks for them (building
 * them with the offline knowledge source when the file is absent and `source: offline`), runs the
 * experiment and prints the tables and the run folder.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { knowledgeTables, loadKnowledgeVectors } from '../../data/ctr-knowledge.ts';
import { ctrDatasetOf, formatCtrResult, loadCtrExperiment, resolveConfigPath, runCtrExperiment } from '../../experiment/ctr.ts';
import { defaultEmbedder } from '../../llm/embed.ts';
import { buildKnowledge } from '../../knowledge/build.ts';
import { buildKnowledgeRequests, OfflineKnowledgeSource } from '../../knowledge/kar.ts';
import { buildLiberKnowledge, OfflineLiberSource } from '../../knowledge/liber.ts';
import { embedderFromSpec } from '../../knowledge/embedders.ts';

/** Runs a CTR experiment file with `--key=value` overrides; returns the run folder. */
export async function runCtrFile(path: string, overrides: readonly string[]): Promise<string | undefined> {
  const config = loadCtrExperiment(path, overrides);
  const baseDir = dirname(path);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const ds = ctrDatasetOf(config, baseDir);
  const wants = config.models.some((m) => m.config.knowledge === true && m.vectors === 'kar');
  let knowledge;
  if (wants) {
    const k = config.knowledge;
    if (!k) throw new Error(`${path}: key "knowledge": a model has knowledge: true, so the experiment needs a knowledge section (vectors: <file.rkv>)`);
    const file = resolveConfigPath(k.vectors, undefined);
    if (!existsSync(file)) {
      if (k.source !== 'offline') throw new Error(`${path}: key "knowledge.vectors": ${file} does not exist; build it with \`reclab knowledge build ${config.data.source} --out ${k.vectors} --llm <spec>\``);
      log(`knowledge vectors ${file} absent: building them with the OFFLINE knowledge source (metadata text, no LLM)`);
      await buildKnowledge(ds, { mode: k.mode, budget: k.budget, source: new OfflineKnowledgeSource(), embedder: await embedderFromSpec(k.embedder), out: file, log });
    }
    const v = loadKnowledgeVectors(file);
    const t = knowledgeTables(v, ds.users.map((u) => u.rawId), ds.items.map((i) => i.rawId));
    if (t.missing.users || t.missing.items) log(`knowledge: ${t.missing.users} users and ${t.missing.items} items have no vector in ${file} (zeros)`);
    knowledge = { dim: t.dim, user: t.user, item: t.item, meta: { file, ...v.meta } };
    log(`knowledge: ${String(v.meta.description ?? file)}`);
  }
  let liber;
  if (config.models.some((m) => m.config.knowledge === true && m.vectors === 'liber')) {
    const lc = config.knowledge?.liber;
    if (!lc) throw new Error(`${path}: key "knowledge.liber": a model has vectors: liber, so the knowledge section needs liber: { K: … }`);
    if (config.knowledge!.source !== 'offline') throw new Error(`${path}: key "knowledge.source": LIBER summaries with an LLM are built through the API (src/knowledge/liber.ts); this runner builds the offline ones`);
    // the item queries: the offline KAR item texts, in the partitions' encoder space
    const plan = buildKnowledgeRequests(ds, { mode: 'individual' });
    const offline = new OfflineKnowledgeSource();
    const itemTexts = await Promise.all(Array.from(plan.itemRequest, (q) => offline.answer(plan.requests[q])));
    log(`LIBER: streaming ${ds.nEvents} behaviours of ${ds.nUsers} users into partitions of K = ${lc.K} (OFFLINE summaries, no LLM)`);
    const lk = await buildLiberKnowledge(ds, { K: lc.K, maxSpanSeconds: lc.maxSpanDays === undefined ? undefined : lc.maxSpanDays * 86400, source: new OfflineLiberSource(), embedder: await defaultEmbedder(lc.embedder), itemTexts, log });
    log(`knowledge: ${lk.description}`);
    liber = { dim: lk.dim, user: new Float32Array(ds.nUsers * lk.dim), item: lk.itemQuery, userOfEvent: lk.userOfEvent, meta: { description: lk.description, partitions: lk.partitions, calls: lk.calls, K: lc.K } };
  }
  const { result, dir, table } = await runCtrExperiment(config, { baseDir, log, knowledge, liber, dataset: ds, progress: Boolean(process.stderr.isTTY) });
  process.stdout.write(`${formatCtrResult(result, table)}\n`);
  if (dir) process.stdout.write(`results: ${dir}\n`);
  return dir;
}
