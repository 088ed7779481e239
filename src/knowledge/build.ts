/**
 * From a CTR view to the pre-stored knowledge vectors file: plan the requests (KAR individual or
 * collective), answer them (LLM or offline source), encode each answer with the text embedder,
 * and write one vector per user and item keyed by raw id (src/data/ctr-knowledge.ts). Serving
 * and training read this file; neither calls an LLM.
 */
import type { CtrDataset } from '../data/ctr.ts';
import { saveKnowledgeVectors, type KnowledgeVectors } from '../data/ctr-knowledge.ts';
import type { Embedder } from '../llm/embed.ts';
import { buildKnowledgeRequests, estimatePlan, runPlan, type KarOptions, type KnowledgePlan, type KnowledgeSource } from './kar.ts';

export interface BuildOptions extends KarOptions {
  source: KnowledgeSource;
  embedder: Embedder;
  /** Write the vectors here (skipped when absent). */
  out?: string;
  log?: (line: string) => void;
}

/** Answers and encodes a plan: vectors keyed by raw id, meta recording where they come from. */
export async function buildKnowledge(ds: CtrDataset, options: BuildOptions): Promise<{ vectors: KnowledgeVectors; plan: KnowledgePlan; texts: string[] }> {
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const plan = buildKnowledgeRequests(ds, options);
  const est = estimatePlan(plan);
  log(`knowledge: ${plan.mode} extraction, ${est.calls} requests (${est.userCalls} user, ${est.itemCalls} item), source ${options.source.id}${options.source.offline ? ' (offline: text from metadata, no LLM)' : ''}`);
  const texts = await runPlan(plan, options.source, (done, total) => {
    if (done % 500 === 0 || done === total) log(`  answered ${done}/${total} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  });
  const vecs = await options.embedder.embed(texts);
  const dim = options.embedder.dim;
  const user = new Float32Array(ds.nUsers * dim);
  const item = new Float32Array(ds.nItems * dim);
  for (let u = 0; u < ds.nUsers; u++) user.set(vecs[plan.userRequest[u]], u * dim);
  for (let i = 0; i < ds.nItems; i++) item.set(vecs[plan.itemRequest[i]], i * dim);
  const vectors: KnowledgeVectors = {
    dim,
    userIds: ds.users.map((u) => u.rawId),
    itemIds: ds.items.map((i) => i.rawId),
    user,
    item,
    meta: {
      description: `${options.source.offline ? 'OFFLINE knowledge source (text written from metadata: title, year, genres; user history and demographics — no LLM)' : `LLM ${options.source.id}`}, ${plan.mode} extraction (${est.calls} requests), encoder ${options.embedder.name}, prompts before ${new Date(plan.cutoff * 1000).toISOString().slice(0, 10)}`,
      source: options.source.id,
      offline: options.source.offline,
      mode: plan.mode,
      requests: est.calls,
      userRequests: est.userCalls,
      itemRequests: est.itemCalls,
      prompts: [...new Set(plan.requests.map((r) => r.prompt))],
      embedder: options.embedder.name,
      cutoff: plan.cutoff,
      dataset: ds.name,
      seconds: (performance.now() - t0) / 1000,
    },
  };
  if (options.out) saveKnowledgeVectors(options.out, vectors);
  log(`knowledge: ${est.calls} answers encoded with ${options.embedder.name} (${dim}-d) in ${((performance.now() - t0) / 1000).toFixed(1)} s${options.out ? ` → ${options.out}` : ''}`);
  return { vectors, plan, texts };
}
