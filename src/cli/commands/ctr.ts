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
import { OfflineKnowledgeSource } from '../../knowledge/kar.ts';

/** Runs a CTR experiment file with `--key=value` overrides; returns the run folder. */
export async function runCtrFile(path: string, overrides: readonly string[]): Promise<string | undefined> {
  const config = loadCtrExperiment(path, overrides);
  const baseDir = dirname(path);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const ds = ctrDatasetOf(config, baseDir);
  const wants = config.models.some((m) => m.config.knowledge === true);
  let knowledge;
  if (wants) {
    const k = config.knowledge;
    if (!k) throw new Error(`${path}: key "knowledge": a model has knowledge: true, so the experiment needs a knowledge section (vectors: <file.rkv>)`);
    const file = resolveConfigPath(k.vectors, undefined);
    if (!existsSync(file)) {
      if (k.source !== 'offline') throw new Error(`${path}: key "knowledge.vectors": ${file} does not exist; build it with \`reclab knowledge build ${config.data.source} --out ${k.vectors} --llm <spec>\``);
      log(`knowledge vectors ${file} absent: building them with the OFFLINE knowledge source (metadata text, no LLM)`);
      await buildKnowledge(ds, { mode: k.mode, budget: k.budget, source: new OfflineKnowledgeSource(), embedder: await defaultEmbedder(k.embedder), out: file, log });
    }
    const v = loadKnowledgeVectors(file);
    const t = knowledgeTables(v, ds.users.map((u) => u.rawId), ds.items.map((i) => i.rawId));
    if (t.missing.users || t.missing.items) log(`knowledge: ${t.missing.users} users and ${t.missing.items} items have no vector in ${file} (zeros)`);
    knowledge = { dim: t.dim, user: t.user, item: t.item, meta: { file, ...v.meta } };
    log(`knowledge: ${String(v.meta.description ?? file)}`);
  }
  const { result, dir, table } = await runCtrExperiment(config, { baseDir, log, knowledge, dataset: ds, progress: Boolean(process.stderr.isTTY) });
  process.stdout.write(`${formatCtrResult(result, table)}\n`);
  if (dir) process.stdout.write(`results: ${dir}\n`);
  return dir;
}
