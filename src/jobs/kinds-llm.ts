/**
 * Job kinds that call an LLM: a batch of Arena comparisons and a batch of item knowledge.
 *
 * The LLM is named by a provider spec (`openai:…`, `gguf:…`, `replay:<recording.jsonl>`,
 * `scripted:<name>`; src/llm/spec.ts) and, for real providers, answers are cached in `cacheDir`
 * when given (a directory every worker sees: a retried batch pays for no call twice). The
 * content key hashes the spec with everything the batch judges or describes, so the same batch
 * submitted twice runs once.
 */
import { createClient } from '../llm/index.ts';
import { runArena, type ArenaItem, type ArenaUser } from '../judge/index.ts';
import '../judge/scripts.ts';
import { buildItemKnowledge, type CatalogueItem } from '../knowledge/items.ts';
import { LlmKnowledgeSource, OfflineKnowledgeSource } from '../knowledge/kar.ts';
import { embedderFromSpec } from '../knowledge/embedders.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveKnowledgeVectors, type KnowledgeVectors } from '../data/ctr-knowledge.ts';
import { putArtifact } from './artifacts.ts';
import type { JobKind } from './kinds.ts';
import { contentHash } from './results.ts';

/** `arena`: every pair of `systems` judged for each of `users` (one batch of an Arena run). */
export interface ArenaBatchData {
  /** LLM provider spec of the judge. */
  llm: string;
  /** Answer cache directory (shared by workers) for real providers. */
  cacheDir?: string;
  systems: { name: string; lists: [number, ArenaItem[]][] }[];
  users: ArenaUser[];
  k?: number;
  domain?: string;
}

function checkSpec(kind: string, d: { llm?: unknown }): void {
  if (typeof d?.llm !== 'string' || d.llm === '') throw new Error(`${kind} job: field "llm" must be a provider spec (openai:…, gguf:…, replay:…, scripted:…${kind === 'knowledge' ? ' or offline' : ''})`);
}

export const arenaKind: JobKind<ArenaBatchData> = {
  name: 'arena',
  key: (d) => `arena:${contentHash({ llm: d.llm, systems: d.systems, users: d.users, k: d.k ?? 10, domain: d.domain ?? 'movies' })}`,
  check(data) {
    const d = data as ArenaBatchData;
    checkSpec('arena', d);
    if (!Array.isArray(d.systems) || d.systems.length < 2) throw new Error('arena job: field "systems" must list at least 2 systems');
    d.systems.forEach((s, i) => {
      if (typeof s?.name !== 'string' || !Array.isArray(s.lists)) throw new Error(`arena job: systems[${i}] needs "name" and "lists" ([user, items] pairs)`);
    });
    if (!Array.isArray(d.users) || d.users.length === 0) throw new Error('arena job: field "users" must list at least one user');
    d.users.forEach((u, i) => {
      if (!Number.isInteger(u?.user) || !Array.isArray(u.history)) throw new Error(`arena job: users[${i}] needs "user" (dense id) and "history"`);
    });
    return d;
  },
  async run(d, ctx) {
    const client = createClient(d.llm, { cacheDir: d.cacheDir });
    const systems = d.systems.map((s) => ({ name: s.name, lists: new Map(s.lists) }));
    const run = await runArena(systems, d.users, { client, k: d.k, domain: d.domain, progress: false });
    await ctx.progress(95);
    const bytes = `${JSON.stringify(run)}\n`;
    return { judge: run.judge, systems: run.systems, matches: run.matches.map((m) => ({ user: m.user, a: m.a, b: m.b, outcome: m.outcome })), ...(ctx.artifacts ? { artifact: putArtifact(ctx.artifacts, bytes, '.json').sha256 } : {}) };
  },
  identity(result) {
    const r = result as { judge: string; systems: string[]; matches: unknown };
    return { judge: r.judge, systems: r.systems, matches: r.matches };
  },
};

/** `knowledge`: LLM item knowledge (one request per item), encoded into vectors. */
export interface KnowledgeBatchData {
  /** LLM provider spec, or `offline` (text written from the metadata: no LLM). */
  llm: string;
  cacheDir?: string;
  /** Encoder spec (src/knowledge/embedders.ts: `hashed`, `openai:…`, …). */
  embedder: string;
  items: CatalogueItem[];
  dataset?: string;
  maxTokens?: number;
}

export const knowledgeKind: JobKind<KnowledgeBatchData> = {
  name: 'knowledge',
  key: (d) => `knowledge:${contentHash({ llm: d.llm, embedder: d.embedder, items: d.items, maxTokens: d.maxTokens ?? 400 })}`,
  check(data) {
    const d = data as KnowledgeBatchData;
    checkSpec('knowledge', d);
    if (typeof d.embedder !== 'string' || d.embedder === '') throw new Error('knowledge job: field "embedder" must be an encoder spec (e.g. hashed)');
    if (!Array.isArray(d.items) || d.items.length === 0) throw new Error('knowledge job: field "items" must list at least one item');
    d.items.forEach((it, i) => {
      if (typeof it?.rawId !== 'string' || typeof it.title !== 'string' || !Array.isArray(it.genres)) throw new Error(`knowledge job: items[${i}] needs "rawId", "title" and "genres"`);
    });
    return d;
  },
  async run(d, ctx) {
    if (!ctx.artifacts) throw new Error('knowledge job: the worker needs --artifacts (the vectors are written there)');
    const source = d.llm === 'offline' ? new OfflineKnowledgeSource() : new LlmKnowledgeSource(createClient(d.llm, { cacheDir: d.cacheDir }), d.maxTokens ?? 400);
    const { vectors, texts } = await buildItemKnowledge(d.items, { source, embedder: await embedderFromSpec(d.embedder), dataset: d.dataset, log: ctx.log });
    await ctx.progress(90);
    const art = putArtifact(ctx.artifacts, vectorsBytes(vectors), '.knowledge');
    return { items: vectors.itemIds.length, dim: vectors.dim, source: source.id, artifact: art.sha256, texts: contentHash(texts) };
  },
};

/**
 * The vectors file's bytes (the format `reclab knowledge build` writes), without the build's
 * wall time: a re-run then writes the same bytes, so the artifact's hash names its content.
 */
function vectorsBytes(v: KnowledgeVectors): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-knowledge-'));
  try {
    const file = join(dir, 'v.knowledge');
    saveKnowledgeVectors(file, { ...v, meta: { ...v.meta, seconds: undefined } });
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
