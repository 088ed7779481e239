/**
 * Item knowledge for data sets without a CTR view — the sequential models' data (SASRec's
 * ml-1m.txt, whose item ids were renumbered): the item catalogue comes from MovieLens `movies.dat`
 * joined through an id map (`sas_to_original_items.txt`), each item gets KAR's item prompt
 * (`kar-item`, facts along the scenario's factors), the answers (LLM or the offline metadata
 * source) are encoded, and the vectors are written keyed by the data set's raw item id — the
 * same `.rkv` file the CTR models read (no user vectors: the sequential model has no user tower).
 *
 * movies.dat is parsed here rather than through llmrec's catalogue because the layering puts
 * knowledge below llmrec.
 */
import { readFileSync } from 'node:fs';
import { saveKnowledgeVectors, type KnowledgeVectors } from '../data/ctr-knowledge.ts';
import type { Embedder } from '../llm/embed.ts';
import { loadPrompt, renderPrompt } from '../llm/prompts.ts';
import { estimateTokens } from '../llm/index.ts';
import { KNOWLEDGE_PROMPTS_DIR, MOVIE_FACTORS, type KnowledgeRequest, type KnowledgeSource } from './kar.ts';

/** Texts per encoder call (progress is logged after each). */
const ENCODE_CHUNK = 250;

/** One catalogue entry. */
export interface CatalogueItem {
  /** The data set's raw item id. */
  rawId: string;
  title: string;
  year: number | null;
  genres: string[];
}

/**
 * The catalogue of the raw item ids `itemIds` from MovieLens `movies.dat` (`MovieID::Title::Genres`,
 * ISO-8859-1); `idMapPath` (two columns: data set id, MovieLens id) translates the ids first.
 * Throws, naming the file and line, on a malformed line or an item with no entry.
 */
export function movieLensItems(itemIds: readonly string[], moviesDat: string, idMapPath?: string): CatalogueItem[] {
  const movies = new Map<string, { title: string; genres: string[] }>();
  readFileSync(moviesDat, 'latin1').split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line) return;
    const f = line.split('::');
    if (f.length !== 3 || !/^\d+$/.test(f[0])) throw new Error(`${moviesDat}:${i + 1}: expected MovieID::Title::Genres, got "${line.slice(0, 60)}"`);
    movies.set(f[0], { title: f[1], genres: f[2].split('|').filter(Boolean) });
  });
  const map = new Map<string, string>();
  if (idMapPath) {
    readFileSync(idMapPath, 'utf8').split('\n').forEach((raw, i) => {
      const t = raw.trim();
      if (!t) return;
      const f = t.split(/\s+/);
      if (f.length !== 2) throw new Error(`${idMapPath}:${i + 1}: expected two ids (data set id, MovieLens id), got "${t.slice(0, 60)}"`);
      map.set(f[0], f[1]);
    });
  }
  return itemIds.map((rawId) => {
    const movieId = idMapPath ? map.get(rawId) : rawId;
    if (movieId === undefined) throw new Error(`${idMapPath}: no entry for item ${rawId}`);
    const m = movies.get(movieId);
    if (!m) throw new Error(`${moviesDat}: no movie ${movieId} (item ${rawId})`);
    const y = /\((\d{4})\)\s*$/.exec(m.title);
    return { rawId, title: m.title, year: y ? Number(y[1]) : null, genres: m.genres };
  });
}

/** KAR's individual item requests (one per item) for a catalogue. */
export function itemKnowledgeRequests(items: readonly CatalogueItem[], promptsDir = KNOWLEDGE_PROMPTS_DIR): KnowledgeRequest[] {
  const t = loadPrompt('kar-item', undefined, promptsDir);
  const factors = MOVIE_FACTORS.join('; ');
  return items.map((it, i) => ({
    kind: 'item',
    key: it.rawId,
    members: [i],
    prompt: t.id,
    messages: renderPrompt(t, { scenario: 'movies', title: it.title, year: it.year === null ? 'unknown year' : String(it.year), genres: it.genres.join(', ') || 'unknown', factors }),
    quotedTimes: [],
    cutoff: null,
    facts: { titles: [it.title], genres: it.genres, years: it.year === null ? [] : [it.year] },
  }));
}

/** Options of {@link buildItemKnowledge}. */
export interface ItemKnowledgeOptions {
  source: KnowledgeSource;
  embedder: Embedder;
  /** Write the vectors here (skipped when absent). */
  out?: string;
  /** Data set name, for the record. */
  dataset?: string;
  promptsDir?: string;
  log?: (line: string) => void;
}

/** Answers and encodes one request per item; vectors keyed by raw item id (no users). */
export async function buildItemKnowledge(items: readonly CatalogueItem[], options: ItemKnowledgeOptions): Promise<{ vectors: KnowledgeVectors; texts: string[] }> {
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const requests = itemKnowledgeRequests(items, options.promptsDir);
  const promptTokens = requests.reduce((s, r) => s + r.messages.reduce((a, m) => a + estimateTokens(m.content), 0), 0);
  log(`item knowledge: ${requests.length} requests (≈ ${promptTokens} prompt tokens), source ${options.source.id}${options.source.offline ? ' (offline: text from metadata, no LLM)' : ''}`);
  const texts: string[] = [];
  for (const r of requests) {
    texts.push(await options.source.answer(r));
    if (texts.length % 1000 === 0 || texts.length === requests.length) {
      const s = (performance.now() - t0) / 1000;
      log(`  answered ${texts.length}/${requests.length} (${s.toFixed(1)} s, ETA ${((s / texts.length) * (requests.length - texts.length)).toFixed(0)} s)`);
    }
  }
  // encode in chunks so a slow encoder (the sentence encoder takes minutes here) shows progress
  const dim = options.embedder.dim;
  const item = new Float32Array(items.length * dim);
  const t1 = performance.now();
  for (let s = 0; s < texts.length; s += ENCODE_CHUNK) {
    const vecs = await options.embedder.embed(texts.slice(s, s + ENCODE_CHUNK));
    vecs.forEach((v, k) => item.set(v, (s + k) * dim));
    const done = Math.min(texts.length, s + ENCODE_CHUNK);
    const sec = (performance.now() - t1) / 1000;
    log(`  encoded ${done}/${texts.length} (${sec.toFixed(1)} s, ETA ${((sec / done) * (texts.length - done)).toFixed(0)} s)`);
  }
  const vectors: KnowledgeVectors = {
    dim,
    userIds: [],
    itemIds: items.map((it) => it.rawId),
    user: new Float32Array(0),
    item,
    meta: {
      description: `${options.source.offline ? 'OFFLINE knowledge source (item text written from metadata: title, year, genres — no LLM)' : `LLM ${options.source.id}`}, individual item extraction (${requests.length} requests), encoder ${options.embedder.name}`,
      source: options.source.id,
      offline: options.source.offline,
      mode: 'individual',
      requests: requests.length,
      itemRequests: requests.length,
      userRequests: 0,
      promptTokens,
      prompts: [...new Set(requests.map((r) => r.prompt))],
      embedder: options.embedder.name,
      dataset: options.dataset ?? null,
      seconds: (performance.now() - t0) / 1000,
    },
  };
  if (options.out) saveKnowledgeVectors(options.out, vectors);
  log(`item knowledge: ${requests.length} answers encoded with ${options.embedder.name} (${dim}-d) in ${((performance.now() - t0) / 1000).toFixed(1)} s${options.out ? ` → ${options.out}` : ''}`);
  return { vectors, texts };
}
