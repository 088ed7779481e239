/**
 * LIBER (Lifelong User Behavior Modeling based on LLMs; METHODS.md §1): a user's lifelong
 * behaviours are cut into partitions as they stream in, and only each *new* partition is
 * summarised — never the whole history again.
 *
 * - Streaming partition: events collect in the user's open cache; the cache freezes into a
 *   partition when it holds K events, or (optionally) when an event arrives more than
 *   `maxSpanSeconds` after the cache's first event (by time).
 * - Cascaded summaries per new frozen partition p: (1) the interests p shows
 *   (`liber-interest` prompt, p's events only); (2) when there is a previous profile, the shift of
 *   interests against it (`liber-shift`), which becomes the user's profile after p. So n
 *   partitions cost n + (n − 1) calls. Summaries are stored per (user, partition) and every call
 *   goes through the LLM client's cache, so nothing frozen is ever summarised twice.
 * - Fusion: the partition summaries are encoded; for an impression at time t of target item i,
 *   v = Σ_p softmax_p(⟨q_i, k_p⟩/√d) k_p over the partitions frozen before t (q_i: the item's
 *   knowledge vector) — the user vector that enters a CTR model through the adaptor.
 */
import type { ChatMessage } from '../llm/types.ts';
import type { LLMClient } from '../llm/client.ts';
import type { Embedder } from '../llm/embed.ts';
import { loadPrompt, renderPrompt } from '../llm/prompts.ts';
import { KNOWLEDGE_PROMPTS_DIR } from './kar.ts';

/** One behaviour. */
export interface LiberEvent {
  time: number;
  title: string;
  rating: number;
  genres: string[];
}

/** A frozen partition and its summaries. */
export interface Partition {
  index: number;
  events: LiberEvent[];
  start: number;
  end: number;
  /** Step 1 of the cascade. */
  interests: string;
  /** The user's profile after this partition (= interests for the first one; step 2 otherwise). */
  profile: string;
}

/** What a summariser is asked: the rendered prompt and its structured inputs. */
export interface LiberCall {
  step: 'interests' | 'shift';
  user: string;
  partition: number;
  prompt: string;
  messages: ChatMessage[];
  /** Times of the behaviours quoted (leakage guard): this partition's events only. */
  quotedTimes: number[];
  events: LiberEvent[];
  previous?: string;
  interests?: string;
}

/** Answers LIBER calls. */
export interface LiberSource {
  readonly id: string;
  readonly offline: boolean;
  answer(call: LiberCall): Promise<string>;
}

/** Through the project's LLM client (cache, accounting, retries). */
export class LlmLiberSource implements LiberSource {
  readonly offline = false;
  constructor(readonly client: LLMClient, readonly maxTokens = 300) {}
  get id(): string {
    return this.client.provider.id;
  }
  async answer(call: LiberCall): Promise<string> {
    return (await this.client.chat({ messages: call.messages, tag: call.prompt, maxTokens: this.maxTokens, meta: { step: call.step, user: call.user, partition: call.partition } })).text;
  }
}

/** No LLM: interests = the partition's most rated genres and liked titles; shift = the genres that came and went. */
export class OfflineLiberSource implements LiberSource {
  readonly id = 'offline-metadata';
  readonly offline = true;
  async answer(call: LiberCall): Promise<string> {
    if (call.step === 'interests') {
      const c = new Map<string, number>();
      for (const e of call.events) for (const g of e.genres) c.set(g, (c.get(g) ?? 0) + (e.rating - 2.5));
      const top = [...c.entries()].sort((a, b) => b[1] - a[1]);
      const liked = call.events.filter((e) => e.rating >= 4).map((e) => e.title);
      return `interests: ${top.slice(0, 3).map(([g]) => g).join(', ') || 'unclear'}; least: ${top.slice(-2).map(([g]) => g).join(', ') || 'unclear'}. liked: ${liked.slice(0, 5).join('; ') || 'none'}. (offline source)`;
    }
    return `${call.interests} Before: ${call.previous?.slice(0, 200)}`;
  }
}

/** Options of {@link LiberProfiler}. */
export interface LiberOptions {
  /** Events per partition. */
  K: number;
  /** Freeze the cache when an event arrives this long after its first event (seconds). */
  maxSpanSeconds?: number;
  promptsDir?: string;
}

interface UserState {
  cache: LiberEvent[];
  partitions: Partition[];
}

const when = (t: number): string => new Date(t * 1000).toISOString().slice(0, 10);

/** The streaming profiler: feed events in time order per user; frozen partitions are summarised once. */
export class LiberProfiler {
  private readonly users = new Map<string, UserState>();
  /** Calls made (interests + shift), for accounting and tests. */
  calls = 0;
  /** Every call made, in order (tests inspect prompts). */
  readonly log: LiberCall[] = [];
  private readonly tInterest;
  private readonly tShift;

  constructor(readonly source: LiberSource, readonly options: LiberOptions) {
    if (!(Number.isInteger(options.K) && options.K >= 1)) throw new Error(`LIBER: K must be a positive integer, got ${options.K}`);
    const dir = options.promptsDir ?? KNOWLEDGE_PROMPTS_DIR;
    this.tInterest = loadPrompt('liber-interest', undefined, dir);
    this.tShift = loadPrompt('liber-shift', undefined, dir);
  }

  private state(user: string): UserState {
    let s = this.users.get(user);
    if (!s) this.users.set(user, (s = { cache: [], partitions: [] }));
    return s;
  }

  /** Frozen partitions of a user. */
  partitions(user: string): readonly Partition[] {
    return this.state(user).partitions;
  }

  /** Events waiting in the user's open cache. */
  pending(user: string): number {
    return this.state(user).cache.length;
  }

  /** Appends events (time order); freezes and summarises each partition that fills. Returns the new partitions. */
  async append(user: string, events: readonly LiberEvent[]): Promise<Partition[]> {
    const s = this.state(user);
    const made: Partition[] = [];
    for (const e of events) {
      const last = s.partitions.at(-1);
      const lastTime = s.cache.at(-1)?.time ?? last?.end ?? -Infinity;
      if (e.time < lastTime) throw new Error(`LIBER: user ${user}: events must arrive in time order (${e.time} after ${lastTime})`);
      if (this.options.maxSpanSeconds !== undefined && s.cache.length && e.time - s.cache[0].time > this.options.maxSpanSeconds) made.push(await this.freeze(user, s));
      s.cache.push(e);
      if (s.cache.length >= this.options.K) made.push(await this.freeze(user, s));
    }
    return made;
  }

  private async call(c: Omit<LiberCall, 'messages' | 'prompt'>, vars: Record<string, string>): Promise<string> {
    const t = c.step === 'interests' ? this.tInterest : this.tShift;
    const full: LiberCall = { ...c, prompt: t.id, messages: renderPrompt(t, { scenario: 'movie', ...vars }) };
    this.log.push(full);
    this.calls++;
    return this.source.answer(full);
  }

  private async freeze(user: string, s: UserState): Promise<Partition> {
    const events = s.cache;
    s.cache = [];
    const index = s.partitions.length;
    const start = events[0].time;
    const end = events[events.length - 1].time;
    const lines = events.map((e) => `- ${when(e.time)} ${e.title} [${e.genres.join(', ')}]: ${e.rating}/5`).join('\n');
    const quotedTimes = events.map((e) => e.time);
    const interests = await this.call({ step: 'interests', user, partition: index, quotedTimes, events }, { start: when(start), end: when(end), events: lines });
    const prev = s.partitions.at(-1);
    const profile = prev
      ? await this.call({ step: 'shift', user, partition: index, quotedTimes, events, previous: prev.profile, interests }, { start: when(start), end: when(end), previous: prev.profile, interests })
      : interests;
    const p: Partition = { index, events, start, end, interests, profile };
    s.partitions.push(p);
    return p;
  }
}

/**
 * LIBER's fusion for one impression at time t: attention over the vectors of the partitions
 * frozen before t (`ends[p]` < t), with the target item's vector as the query. Zeros when no
 * partition is old enough.
 */
export function fusePartitions(query: Float32Array, keys: readonly Float32Array[], ends: readonly number[], t: number): Float32Array {
  const d = query.length;
  const out = new Float32Array(d);
  const use: number[] = [];
  for (let p = 0; p < keys.length; p++) if (ends[p] < t) use.push(p);
  if (!use.length) return out;
  const s = use.map((p) => {
    let x = 0;
    for (let j = 0; j < d; j++) x += query[j] * keys[p][j];
    return x / Math.sqrt(d);
  });
  const m = Math.max(...s);
  const w = s.map((x) => Math.exp(x - m));
  const z = w.reduce((a, b) => a + b, 0);
  use.forEach((p, k) => {
    for (let j = 0; j < d; j++) out[j] += (w[k] / z) * keys[p][j];
  });
  return out;
}

/** Encodes every frozen partition's profile text of a user. */
export async function encodePartitions(embedder: Embedder, parts: readonly Partition[]): Promise<Float32Array[]> {
  return embedder.embed(parts.map((p) => p.profile));
}

/** What {@link buildLiberKnowledge} returns. */
export interface LiberKnowledge {
  dim: number;
  /** Partitions made and calls (interests + shift) made. */
  partitions: number;
  calls: number;
  /** Item query vectors [nItems × dim] (same encoder as the partitions). */
  itemQuery: Float32Array;
  /** LIBER's user vector of impression e: fusion of the user's partitions frozen before time[e], queried by the target item. */
  userOfEvent: (event: number, item: number, out: Float32Array, off: number) => void;
  description: string;
}

/**
 * Streams every user's behaviours of a CTR view (all splits, in time order, as they would arrive)
 * through a {@link LiberProfiler}, encodes each partition's profile and each item's text with
 * `embedder`, and returns the per-impression fusion: for an impression at time t only partitions
 * frozen strictly before t take part, so nothing at or after t reaches the vector.
 */
export async function buildLiberKnowledge(
  ds: import('../data/ctr.ts').CtrDataset,
  options: { K: number; maxSpanSeconds?: number; source: LiberSource; embedder: Embedder; itemTexts: string[]; log?: (l: string) => void },
): Promise<LiberKnowledge> {
  const t0 = performance.now();
  const lib = new LiberProfiler(options.source, { K: options.K, maxSpanSeconds: options.maxSpanSeconds });
  const keys: Float32Array[][] = [];
  const ends: number[][] = [];
  for (let u = 0; u < ds.nUsers; u++) {
    const ev: LiberEvent[] = [];
    for (let p = ds.seqOff[u]; p < ds.seqOff[u + 1]; p++) {
      const it = ds.items[ds.seqItem[p]];
      ev.push({ time: ds.seqTime[p], title: it.title, rating: ds.seqRating[p], genres: it.genres });
    }
    const key = ds.users[u].rawId;
    await lib.append(key, ev);
    const parts = lib.partitions(key);
    keys.push(await encodePartitions(options.embedder, parts));
    ends.push(parts.map((p) => p.end));
    if ((u + 1) % 200 === 0) options.log?.(`  LIBER: ${u + 1}/${ds.nUsers} users, ${lib.calls} calls (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const itemQuery = new Float32Array(ds.nItems * options.embedder.dim);
  (await options.embedder.embed(options.itemTexts)).forEach((v, i) => itemQuery.set(v, i * options.embedder.dim));
  const dim = options.embedder.dim;
  const partitions = keys.reduce((s, k) => s + k.length, 0);
  return {
    dim,
    partitions,
    calls: lib.calls,
    itemQuery,
    userOfEvent: (event, item, out, off) => {
      const u = ds.user[event];
      out.set(fusePartitions(itemQuery.subarray(item * dim, item * dim + dim), keys[u], ends[u], ds.time[event]), off);
    },
    description: `LIBER (${options.source.offline ? 'OFFLINE source: summaries written from metadata, no LLM' : `LLM ${options.source.id}`}), K = ${options.K}, ${partitions} partitions, ${lib.calls} cascaded calls, encoder ${options.embedder.name}`,
  };
}
