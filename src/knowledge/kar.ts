/**
 * KAR / REKI knowledge extraction (Xi et al. 2023): factorization prompting over the scenario's
 * factors, one request per user and item (individual) or per cluster (collective), answered by an
 * LLM through the project's client (cache, accounting, retries, replay) or — where no LLM is
 * configured — by the offline knowledge source, which writes the text from metadata and is
 * labelled as such wherever its vectors are used.
 *
 * Leakage guard: every user request is built for a cutoff time and holds only behaviours strictly
 * before it (the train / validation boundary of the CTR view, so no validation or test behaviour
 * ever reaches a prompt). Requests carry the times they quote (`quotedTimes`) so tests can check.
 */
import { join } from 'node:path';
import type { CtrDataset } from '../data/ctr.ts';
import { estimateTokens, type LLMClient } from '../llm/index.ts';
import { loadPrompt, PROMPTS_DIR, renderPrompt } from '../llm/prompts.ts';
import type { ChatMessage } from '../llm/types.ts';
import { Rng } from '../util/rng.ts';

/** The factors of the movie scenario (KAR's MovieLens setting). */
export const MOVIE_FACTORS = ['genre', 'director and actors', 'period and country', 'characters', 'plot and theme', 'mood and tone', 'critical acclaim and awards', 'production quality', 'soundtrack'];

/** Folder of the knowledge prompt templates (editable files). */
export const KNOWLEDGE_PROMPTS_DIR = join(PROMPTS_DIR, 'knowledge');

/** One request for knowledge: the rendered prompt and the structured facts it was rendered from. */
export interface KnowledgeRequest {
  kind: 'user' | 'item' | 'user-cluster' | 'item-cluster';
  /** Raw user / item id, or `u<k>` / `i<k>` for a cluster. */
  key: string;
  /** Dense users or items this request's answer is shared by. */
  members: number[];
  /** Template id (`name@version`). */
  prompt: string;
  messages: ChatMessage[];
  /** Behaviour times quoted in the prompt (leakage guard); empty for items. */
  quotedTimes: number[];
  /** Only behaviours strictly before this time may appear (users). */
  cutoff: number | null;
  /** Structured inputs (the offline source writes from these; scripted providers see them as meta). */
  facts: { profile?: string; liked?: string[]; disliked?: string[]; genres?: string[]; years?: number[]; titles?: string[] };
}

/** Options of {@link buildKnowledgeRequests}. */
export interface KarOptions {
  mode: 'individual' | 'collective';
  /** Collective: total calls (clusters) for users + items, split in proportion to their counts. */
  budget?: number;
  /** Behaviours at or after this time never reach a prompt (default: the first validation event). */
  cutoff?: number;
  /** Most recent behaviours quoted per user (default 40). */
  maxHistory?: number;
  promptsDir?: string;
  seed?: number;
}

/** The time of the first non-training event: the default cutoff of every prompt. */
export function trainCutoff(ds: CtrDataset): number {
  let t = Infinity;
  for (let e = 0; e < ds.nEvents; e++) if (ds.split[e] !== 0) t = Math.min(t, ds.time[e]);
  return t;
}

function profileOf(ds: CtrDataset, u: number): string {
  const x = ds.users[u];
  return `${x.age}-year-old ${x.gender === 'M' ? 'man' : x.gender === 'F' ? 'woman' : 'person'}, occupation ${x.occupation}, zip code region ${/^\d/.test(x.zip) ? x.zip[0] : 'outside the US'}`;
}

const yearText = (y: number | null): string => (y === null ? 'unknown year' : String(y));

/** The user's behaviours strictly before `cutoff`, the most recent `max` of them (positions into the sequence arrays). */
export function historyBefore(ds: CtrDataset, u: number, cutoff: number, max: number): number[] {
  const out: number[] = [];
  for (let p = ds.seqOff[u]; p < ds.seqOff[u + 1] && ds.seqTime[p] < cutoff; p++) out.push(p);
  return out.slice(-max);
}

/** k-means (k-means++ init, Lloyd iterations) on rows of X [n × dim]; empty clusters are dropped. */
export function kmeans(X: Float32Array, n: number, dim: number, k: number, seed: number, iters = 20): { assign: Int32Array; k: number } {
  const rng = new Rng(seed);
  k = Math.max(1, Math.min(k, n));
  const C = new Float32Array(k * dim);
  const dist2 = (i: number, c: number): number => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (X[i * dim + j] - C[c * dim + j]) ** 2;
    return s;
  };
  const first = rng.int(n);
  C.set(X.subarray(first * dim, first * dim + dim), 0);
  const best = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let tot = 0;
    for (let i = 0; i < n; i++) tot += best[i] = Math.min(best[i], dist2(i, c - 1));
    let r = rng.next() * tot;
    let pick = n - 1;
    for (let i = 0; i < n; i++) if ((r -= best[i]) <= 0) { pick = i; break; }
    C.set(X.subarray(pick * dim, pick * dim + dim), c * dim);
  }
  const assign = new Int32Array(n);
  for (let it = 0; it < iters; it++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      let bc = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const d = dist2(i, c);
        if (d < bd) { bd = d; bc = c; }
      }
      if (assign[i] !== bc || it === 0) moved++;
      assign[i] = bc;
    }
    const cnt = new Int32Array(k);
    C.fill(0);
    for (let i = 0; i < n; i++) {
      cnt[assign[i]]++;
      for (let j = 0; j < dim; j++) C[assign[i] * dim + j] += X[i * dim + j];
    }
    for (let c = 0; c < k; c++) if (cnt[c]) for (let j = 0; j < dim; j++) C[c * dim + j] /= cnt[c];
    if (!moved) break;
  }
  // renumber the non-empty clusters 0 … k'−1
  const remap = new Map<number, number>();
  for (let i = 0; i < n; i++) if (!remap.has(assign[i])) remap.set(assign[i], remap.size);
  for (let i = 0; i < n; i++) assign[i] = remap.get(assign[i])!;
  return { assign, k: remap.size };
}

/** Behaviour embedding of a user for clustering: mean (rating − 3) per genre and share of ratings per genre, before the cutoff. */
function userBehaviour(ds: CtrDataset, cutoff: number): Float32Array {
  const G = ds.genreField.vocab;
  const X = new Float32Array(ds.nUsers * 2 * G);
  for (let u = 0; u < ds.nUsers; u++) {
    const h = historyBefore(ds, u, cutoff, Infinity);
    for (const p of h) {
      const i = ds.seqItem[p];
      for (let k = ds.itemGenreOff[i]; k < ds.itemGenreOff[i + 1]; k++) {
        const g = ds.itemGenres[k] - ds.genreField.offset;
        X[u * 2 * G + g] += (ds.seqRating[p] - 3) / Math.max(1, h.length);
        X[u * 2 * G + G + g] += 1 / Math.max(1, h.length);
      }
    }
  }
  return X;
}

/** Attribute embedding of an item: genre flags and release decade one-hot. */
function itemAttributes(ds: CtrDataset): { X: Float32Array; dim: number } {
  const G = ds.genreField.vocab;
  const dim = G + 10;
  const X = new Float32Array(ds.nItems * dim);
  for (let i = 0; i < ds.nItems; i++) {
    for (let k = ds.itemGenreOff[i]; k < ds.itemGenreOff[i + 1]; k++) X[i * dim + ds.itemGenres[k] - ds.genreField.offset] = 1;
    const y = ds.items[i].year;
    X[i * dim + G + (y === null ? 0 : Math.max(1, Math.min(9, Math.floor((y - 1910) / 10))))] = 1;
  }
  return { X, dim };
}

/** The requests of one extraction run: users then items, and which request serves each user / item. */
export interface KnowledgePlan {
  requests: KnowledgeRequest[];
  userRequest: Int32Array;
  itemRequest: Int32Array;
  mode: KarOptions['mode'];
  cutoff: number;
}

/** Builds every request of a KAR extraction on a CTR view. */
export function buildKnowledgeRequests(ds: CtrDataset, options: KarOptions): KnowledgePlan {
  const cutoff = options.cutoff ?? trainCutoff(ds);
  const maxH = options.maxHistory ?? 40;
  const dir = options.promptsDir ?? KNOWLEDGE_PROMPTS_DIR;
  const factors = MOVIE_FACTORS.join('; ');
  const scenario = 'movies';
  const requests: KnowledgeRequest[] = [];
  const userRequest = new Int32Array(ds.nUsers);
  const itemRequest = new Int32Array(ds.nItems);
  const stars = (r: number): string => `${r}/5`;
  if (options.mode === 'individual') {
    const tu = loadPrompt('kar-user', undefined, dir);
    const ti = loadPrompt('kar-item', undefined, dir);
    for (let u = 0; u < ds.nUsers; u++) {
      const h = historyBefore(ds, u, cutoff, maxH);
      const lines = h.map((p) => {
        const it = ds.items[ds.seqItem[p]];
        return `- ${it.title} [${it.genres.join(', ')}]: ${stars(ds.seqRating[p])}`;
      });
      const profile = profileOf(ds, u);
      userRequest[u] = requests.length;
      requests.push({
        kind: 'user',
        key: ds.users[u].rawId,
        members: [u],
        prompt: tu.id,
        messages: renderPrompt(tu, { scenario, profile, history: lines.length ? lines.join('\n') : '(no ratings yet)', factors }),
        quotedTimes: h.map((p) => ds.seqTime[p]),
        cutoff,
        facts: {
          profile,
          liked: h.filter((p) => ds.seqRating[p] >= 4).map((p) => ds.items[ds.seqItem[p]].title),
          disliked: h.filter((p) => ds.seqRating[p] <= 2).map((p) => ds.items[ds.seqItem[p]].title),
          genres: h.flatMap((p) => ds.items[ds.seqItem[p]].genres.map((g) => `${g}:${ds.seqRating[p]}`)),
          years: h.map((p) => ds.items[ds.seqItem[p]].year ?? 0),
        },
      });
    }
    for (let i = 0; i < ds.nItems; i++) {
      const it = ds.items[i];
      itemRequest[i] = requests.length;
      requests.push({
        kind: 'item',
        key: it.rawId,
        members: [i],
        prompt: ti.id,
        messages: renderPrompt(ti, { scenario, title: it.title, year: yearText(it.year), genres: it.genres.join(', ') || 'unknown', factors }),
        quotedTimes: [],
        cutoff: null,
        facts: { titles: [it.title], genres: it.genres, years: it.year === null ? [] : [it.year] },
      });
    }
    return { requests, userRequest, itemRequest, mode: options.mode, cutoff };
  }
  // collective: k from the budget, split in proportion to the numbers of users and items
  const budget = options.budget;
  if (!(budget && budget >= 2)) throw new Error('collective knowledge extraction needs a budget of at least 2 calls (one user cluster, one item cluster)');
  const kU = Math.max(1, Math.round((budget * ds.nUsers) / (ds.nUsers + ds.nItems)));
  const kI = Math.max(1, budget - kU);
  const G = ds.genreField.vocab;
  const cu = kmeans(userBehaviour(ds, cutoff), ds.nUsers, 2 * G, kU, options.seed ?? 0);
  const ia = itemAttributes(ds);
  const ci = kmeans(ia.X, ds.nItems, ia.dim, kI, (options.seed ?? 0) + 1);
  const tu = loadPrompt('kar-user-cluster', undefined, dir);
  const ti = loadPrompt('kar-item-cluster', undefined, dir);
  for (let c = 0; c < cu.k; c++) {
    const members = [...Array(ds.nUsers).keys()].filter((u) => cu.assign[u] === c);
    const stats = new Map<number, { sum: number; n: number }>();
    const quoted: number[] = [];
    for (const u of members) {
      for (const p of historyBefore(ds, u, cutoff, Infinity)) {
        const s = stats.get(ds.seqItem[p]) ?? { sum: 0, n: 0 };
        s.sum += ds.seqRating[p];
        s.n++;
        stats.set(ds.seqItem[p], s);
        quoted.push(ds.seqTime[p]);
      }
    }
    const top = [...stats.entries()].sort((a, b) => b[1].n - a[1].n || a[0] - b[0]).slice(0, maxH);
    const profile = members.slice(0, 5).map((u) => profileOf(ds, u)).join('; ') + (members.length > 5 ? `; and ${members.length - 5} more` : '');
    const lines = top.map(([i, s]) => `- ${ds.items[i].title}: ${(s.sum / s.n).toFixed(1)}/5 (${s.n})`);
    for (const u of members) userRequest[u] = requests.length;
    requests.push({
      kind: 'user-cluster',
      key: `u${c}`,
      members,
      prompt: tu.id,
      messages: renderPrompt(tu, { scenario, size: members.length, profile, history: lines.join('\n') || '(no ratings yet)', factors }),
      quotedTimes: quoted,
      cutoff,
      facts: {
        profile,
        liked: top.filter(([, s]) => s.sum / s.n >= 4).map(([i]) => ds.items[i].title),
        disliked: top.filter(([, s]) => s.sum / s.n <= 2.5).map(([i]) => ds.items[i].title),
        genres: top.flatMap(([i, s]) => ds.items[i].genres.map((g) => `${g}:${Math.round(s.sum / s.n)}`)),
        years: top.map(([i]) => ds.items[i].year ?? 0),
      },
    });
  }
  for (let c = 0; c < ci.k; c++) {
    const members = [...Array(ds.nItems).keys()].filter((i) => ci.assign[i] === c);
    const titles = members.slice(0, 30).map((i) => ds.items[i].title);
    for (const i of members) itemRequest[i] = requests.length;
    requests.push({
      kind: 'item-cluster',
      key: `i${c}`,
      members,
      prompt: ti.id,
      messages: renderPrompt(ti, { scenario, size: members.length, titles: titles.join('; ') + (members.length > 30 ? `; and ${members.length - 30} more` : ''), factors }),
      quotedTimes: [],
      cutoff: null,
      facts: { titles, genres: [...new Set(members.flatMap((i) => ds.items[i].genres))], years: members.map((i) => ds.items[i].year ?? 0).filter((y) => y > 0) },
    });
  }
  return { requests, userRequest, itemRequest, mode: options.mode, cutoff };
}

/** Answers knowledge requests. */
export interface KnowledgeSource {
  readonly id: string;
  /** True for the metadata-only source (no language model): every report says so. */
  readonly offline: boolean;
  answer(req: KnowledgeRequest): Promise<string>;
}

/** A count of the most frequent entries. */
function top<T>(xs: T[], k: number): T[] {
  const c = new Map<T, number>();
  for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
  return [...c.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([x]) => x);
}

/**
 * The offline knowledge source: no language model. It writes, along the same factors, only what
 * the metadata says — for an item its title, release year and genres; for a user the profile, the
 * genres and periods of what they rated high and low, and titles liked and disliked. Factors the
 * metadata cannot speak to are written as unknown.
 */
export class OfflineKnowledgeSource implements KnowledgeSource {
  readonly id = 'offline-metadata';
  readonly offline = true;

  async answer(req: KnowledgeRequest): Promise<string> {
    const f = req.facts;
    const decade = (ys: number[]): string => {
      const ds = top(ys.filter((y) => y > 0).map((y) => `${Math.floor(y / 10) * 10}s`), 2);
      return ds.length ? ds.join(' and ') : 'unknown';
    };
    if (req.kind === 'item' || req.kind === 'item-cluster') {
      return [
        `${f.titles!.slice(0, 5).join('; ')}.`,
        `genre: ${f.genres!.join(', ') || 'unknown'}.`,
        `period and country: released in the ${decade(f.years!)}.`,
        'director and actors, characters, plot and theme, mood and tone, acclaim, production quality, soundtrack: unknown (offline source, metadata only).',
      ].join(' ');
    }
    const pairs = f.genres!.map((s) => s.split(':')) as [string, string][];
    const liked = top(pairs.filter(([, r]) => Number(r) >= 4).map(([g]) => g), 3);
    const disliked = top(pairs.filter(([, r]) => Number(r) <= 2).map(([g]) => g), 2);
    return [
      `A ${f.profile}.`,
      `genre: prefers ${liked.join(', ') || 'unclear'}; avoids ${disliked.join(', ') || 'unclear'}.`,
      `period and country: mostly watches films from the ${decade(f.years!)}.`,
      `liked: ${f.liked!.slice(-8).join('; ') || 'none yet'}.`,
      `disliked: ${f.disliked!.slice(-5).join('; ') || 'none yet'}.`,
      'other factors: unclear (offline source, metadata only).',
    ].join(' ');
  }
}

/** Answers through the project's LLM client (cache, accounting, retries, recording). */
export class LlmKnowledgeSource implements KnowledgeSource {
  readonly offline = false;
  constructor(readonly client: LLMClient, readonly maxTokens = 400) {}

  get id(): string {
    return this.client.provider.id;
  }

  async answer(req: KnowledgeRequest): Promise<string> {
    const r = await this.client.chat({ messages: req.messages, tag: req.prompt, maxTokens: this.maxTokens, meta: { kind: req.kind, key: req.key } });
    return r.text;
  }
}

/** What a dry run prints: calls and estimated tokens and cost (completion tokens assumed `maxTokens`). */
export function estimatePlan(plan: KnowledgePlan, pricing = { inputPerMTok: 0, outputPerMTok: 0 }, maxTokens = 400): { calls: number; userCalls: number; itemCalls: number; promptTokens: number; completionTokens: number; costUsd: number } {
  let promptTokens = 0;
  let userCalls = 0;
  for (const r of plan.requests) {
    promptTokens += estimateTokens(r.messages.map((m) => m.content).join('\n'));
    if (r.kind === 'user' || r.kind === 'user-cluster') userCalls++;
  }
  const calls = plan.requests.length;
  const completionTokens = calls * maxTokens;
  return { calls, userCalls, itemCalls: calls - userCalls, promptTokens, completionTokens, costUsd: (promptTokens * pricing.inputPerMTok + completionTokens * pricing.outputPerMTok) / 1e6 };
}

/** Answers every request of a plan (concurrency is the client's); texts in request order. */
export async function runPlan(plan: KnowledgePlan, source: KnowledgeSource, onProgress?: (done: number, total: number) => void): Promise<string[]> {
  const out = new Array<string>(plan.requests.length);
  let done = 0;
  await Promise.all(
    plan.requests.map(async (r, k) => {
      out[k] = await source.answer(r);
      onProgress?.(++done, plan.requests.length);
    }),
  );
  return out;
}
