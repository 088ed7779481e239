/**
 * What a recommendation request computes, independent of HTTP.
 *
 * A user's history is their training events (from the bundle) followed by their feedback in the
 * store, in time order — so an event posted a moment ago counts in the next answer:
 *
 * - sequential models score the whole history as a sequence (`scoreSequence`);
 * - other models get the history as the user's row of an Interactions view (`scoreUsers`): models
 *   that compute from history (EASE, ItemKNN, Pop) fold the new events in exactly; embedding
 *   models (BPR, iALS, DirectAU, LightGCN) re-fit a known user's vector to a history that differs
 *   from their training row (src/models/cf/factor.ts); a user unknown to the model is scored from
 *   their events alone;
 * - a user with no usable history (cold) gets the popular items.
 *
 * Items the user has seen are excluded by default, hidden items always, and `category` keeps only
 * items of that category. Every answer names the model and version that produced it.
 */
import { annFor, annTopK } from './ann-bundle.ts';
import type { AnnIndex } from './ann.ts';
import type { Interactions } from '../data/types.ts';
import { topK } from '../models/topk.ts';
import type { ServedModel } from './bundle.ts';
import type { Catalog } from './catalog.ts';
import type { ModelSlot } from './slot.ts';
import { AnswerCache, entryBytes, type DensePage } from './answer-cache.ts';
import { UserNeighbors } from './user-neighbors.ts';
import type { FeedbackEvent, Store } from './store.ts';

/** One recommended item. */
export interface Scored {
  id: string;
  score: number;
  /** Where this item came from when it differs from the answer's strategy (exploration). */
  from?: Strategy;
}

/** How an answer was produced. */
export type Strategy = 'model' | 'popular' | 'latest';

/**
 * How a feedback type counts (Gorse's `positive_feedback_types`, `negative_feedback_types`,
 * `read_feedback_types`): positive events are the user's taste (the model's input and the
 * popularity counts); negative and read events only keep their items out of the user's
 * recommendations — a dislike never pulls similar items in; `other` types (when positive types
 * are listed and the type is not among them) are kept in the store and do the same as read.
 */
export type FeedbackKind = 'positive' | 'negative' | 'read' | 'other';

/** A list of items plus where it came from. */
export interface Answer {
  items: Scored[];
  strategy: Strategy;
  model?: { name: string; version: string };
}

/** Filters of a listing request. */
export interface ListOptions {
  n: number;
  offset: number;
  category?: string;
  /** Raw item ids never to return. */
  exclude?: readonly string[];
  /** Exclude items already in the user's history (default true). */
  excludeSeen?: boolean;
}

/** Engine settings. */
export interface EngineOptions {
  /** Feedback types that count as positive interactions (undefined: every type not negative or read). */
  positiveTypes?: string[];
  /** Feedback types that say "not this" (default `dislike`). */
  negativeTypes: string[];
  /** Feedback types that say "was shown / was read" (default `read`; the usual write-back type). */
  readTypes: string[];
  /**
   * Strategies that fill the list of a user the model cannot serve (no usable history, or no
   * model), in order: the first fills what it can, the next the rest (Gorse's fallback_recommend).
   */
  fallback: ('popular' | 'latest')[];
  /** Share of a model answer given to popular and to latest items (Gorse's explore_recommend), each in [0, 1). */
  explore: { popular: number; latest: number };
  /** Newest store events read per request (bounds work for very active users). */
  historyLimit: number;
  /** Seconds between recomputations of the popular list. */
  popularTtl: number;
  /** Ranked answers kept per (user, filters); 0 disables the cache. */
  cacheSize: number;
  /**
   * Bound on the estimated bytes of the cached answers (keys, ids, scores and object overhead).
   * Entries are evicted least recently used first until both bounds hold; an answer larger than
   * the bound alone is not cached.
   */
  cacheBytes: number;
  /** Most sequences a sequential model scores in one batched call (1 disables batching). */
  maxBatch: number;
}

/** Default engine settings. */
export const ENGINE_DEFAULTS: EngineOptions = {
  negativeTypes: ['dislike'],
  readTypes: ['read'],
  fallback: ['popular', 'latest'],
  explore: { popular: 0, latest: 0 },
  historyLimit: 1000, popularTtl: 10, cacheSize: 50_000, cacheBytes: 64 * 1024 * 1024, maxBatch: 64 };

/**
 * An Interactions view in which one user's row holds `sequence` and every other row is empty
 * (they are not read). A user unknown to the model gets the row just past the trained users, so
 * embedding models (BPR, iALS) see an unseen user and fold the history in, instead of mistaking
 * the request for trained user 0; history models (EASE, ItemKNN) read the row either way.
 */
export function userView(served: ServedModel, dense: number | undefined, sequence: Int32Array): { users: Int32Array; view: Interactions } {
  const row = dense ?? served.history.nUsers;
  const nUsers = dense === undefined ? served.history.nUsers + 1 : served.history.nUsers;
  const offsets = new Int32Array(nUsers + 1);
  offsets.fill(sequence.length, row + 1);
  return {
    users: Int32Array.of(row),
    view: { nUsers, nItems: served.model.nItems, offsets, items: sequence, times: new Float64Array(sequence.length) },
  };
}

/** The answer of the served model for a ranked page (raw ids; scores as ranked). */
function modelAnswer(served: ServedModel, page: DensePage): Answer {
  const items: Scored[] = new Array(page.items.length);
  for (let r = 0; r < items.length; r++) items[r] = { id: served.items.toRaw(page.items[r]), score: page.scores[r] };
  return { items, strategy: 'model', model: { name: served.name, version: served.version } };
}

/** Computes recommendations over the served model, the store and the catalogue. */
export class Engine {
  readonly options: EngineOptions;
  private scores = new Float32Array(0);
  private popularCache?: { model: ServedModel | undefined; at: number; list: Scored[] };
  private popularRefresh?: Promise<Scored[]>;
  /**
   * Answers by user and filters. An entry is valid only for the same served model, catalogue
   * version and user history stamp; the stamp is read from the store on every request, so
   * feedback posted through any replica invalidates it at once.
   */
  private readonly cache: AnswerCache;
  /** Sequences waiting for the next batched scoring call (see {@link scoreBatched}). */
  private queue: { served: ServedModel; sequence: Int32Array; resolve: (scores: Float32Array) => void; reject: (e: Error) => void }[] = [];
  private batchScheduled = false;
  private readonly neighborsOfUsers = new UserNeighbors();

  constructor(
    private readonly store: Store,
    private readonly slot: ModelSlot,
    private readonly catalog: Catalog,
    options: Partial<EngineOptions> = {},
  ) {
    this.options = { ...ENGINE_DEFAULTS, ...options };
    this.cache = new AnswerCache(this.options);
  }

  /** Cache hits and misses since start, and the estimated bytes held now (for /metrics). */
  get cacheStats(): { hits: number; misses: number; bytes: number } {
    return this.cache.stats;
  }

  /** How feedback of `type` counts (see {@link FeedbackKind}). */
  feedbackKind(type: string): FeedbackKind {
    const o = this.options;
    if (o.negativeTypes.includes(type)) return 'negative';
    if (o.readTypes.includes(type)) return 'read';
    if (o.positiveTypes && !o.positiveTypes.includes(type)) return 'other';
    return 'positive';
  }

  /** `opts` plus every item `user` has interacted with excluded (Gorse's `user-id` on popular and latest). */
  async withUserSeen(opts: ListOptions, user: string | undefined): Promise<ListOptions> {
    if (user === undefined) return opts;
    const events = await this.store.userFeedback(user, undefined, this.options.historyLimit);
    const served = this.slot.current;
    const dense = served?.users.get(user);
    const past: string[] = [];
    if (served && dense !== undefined) {
      for (let p = served.history.offsets[dense]; p < served.history.offsets[dense + 1]; p++) past.push(served.items.toRaw(served.history.items[p]));
    }
    return { ...opts, exclude: [...(opts.exclude ?? []), ...past, ...events.map((e) => e.item)] };
  }

  /** Reusable score buffer (scoring is synchronous, so one per process suffices). */
  private buffer(n: number): Float32Array {
    if (this.scores.length < n) this.scores = new Float32Array(n);
    return this.scores.subarray(0, n);
  }

  /** Recommendations for a user (known to the model, known only to the store, or new). */
  async recommendUser(user: string, opts: ListOptions): Promise<Answer> {
    const served = this.slot.current;
    // Every type: positive events feed the model, the others keep their items out of the list.
    const events = await this.store.userFeedback(user, undefined, this.options.historyLimit);
    const last = events[events.length - 1];
    const stamp = last ? `${events.length}|${last.time}|${last.type}|${last.item}` : '0';
    const key = `${user}\u0000${opts.n}|${opts.offset}|${opts.category ?? ''}|${opts.excludeSeen !== false}|${(opts.exclude ?? []).join(',')}`;
    const hit = this.cache.lookup(key, served, this.catalog.version, stamp);
    if (hit) return this.explore(modelAnswer(hit.served, hit.page), opts, events);
    const result = await this.computeUser(served, user, events, opts);
    if ('strategy' in result) return result; // a cold-start fallback: never cached
    this.cache.remember(key, { served: result.served, catalog: this.catalog.version, stamp, page: result.page, bytes: entryBytes(key, result.page.items.length) });
    return this.explore(modelAnswer(result.served, result.page), opts, events);
  }

  /**
   * Gives the configured share of a model answer to popular and latest items the user has not
   * seen (Gorse's exploration): they take evenly spread places of the page, in the answer's
   * order, marked with where they came from. Deterministic, so an answer is reproducible.
   */
  private async explore(answer: Answer, opts: ListOptions, events: readonly FeedbackEvent[]): Promise<Answer> {
    const { popular, latest } = this.options.explore;
    const n = answer.items.length;
    const nPopular = Math.round(n * popular);
    const nLatest = Math.round(n * latest);
    if (nPopular + nLatest === 0 || n === 0) return answer;
    const excluded = new Set([...(opts.exclude ?? []), ...events.map((e) => e.item), ...answer.items.map((s) => s.id)]);
    const pick = (list: readonly Scored[], k: number, from: Strategy): Scored[] => {
      const out: Scored[] = [];
      for (const s of list) {
        if (out.length >= k) break;
        if (excluded.has(s.id) || !this.catalog.visible(s.id)) continue;
        if (opts.category !== undefined && !this.catalog.inCategory(s.id, opts.category, this.modelCategories(s.id))) continue;
        excluded.add(s.id);
        out.push({ id: s.id, score: s.score, from });
      }
      return out;
    };
    const extra = [
      ...pick(await this.popularList(), nPopular, 'popular'),
      ...pick(this.catalog.latest().map((it) => ({ id: it.id, score: it.time })), nLatest, 'latest'),
    ];
    if (extra.length === 0) return answer;
    const kept = answer.items.slice(0, n - extra.length);
    const items: Scored[] = [];
    const every = n / extra.length;
    let e = 0;
    for (let r = 0; r < n; r++) {
      // Exploration takes places every ≈ n / extra.length, starting after the model's first.
      if (e < extra.length && r >= Math.round(every * (e + 1)) - 1) items.push(extra[e++]);
      else items.push(kept.shift() ?? extra[e++]);
    }
    return { ...answer, items };
  }

  /** Categories the served model knows for an item (fallback when the catalogue does not know it). */
  private modelCategories(id: string): readonly string[] | undefined {
    const served = this.slot.current;
    const dense = served?.items.get(id);
    return dense === undefined ? undefined : served?.itemCategories[dense];
  }

  /** Number of cached answers. */
  get cachedAnswers(): number {
    return this.cache.size;
  }

  /** The uncached computation of {@link recommendUser}: the model's ranked page, or a cold-start answer. */
  private async computeUser(
    served: ServedModel | undefined,
    user: string,
    events: readonly FeedbackEvent[],
    opts: ListOptions,
  ): Promise<Answer | { served: ServedModel; page: DensePage }> {
    const seenRaw = new Set(events.map((e) => e.item));
    if (!served) return this.fallbackAnswer(opts, seenRaw);
    const dense = served.users.get(user);
    const past = dense === undefined ? new Int32Array(0) : served.history.items.subarray(served.history.offsets[dense], served.history.offsets[dense + 1]);
    const fresh: number[] = [];
    const shunned: number[] = [];
    for (const e of events) {
      const i = served.items.get(e.item);
      if (i === undefined) continue;
      if (this.feedbackKind(e.type) === 'positive') fresh.push(i);
      else shunned.push(i);
    }
    if (past.length + fresh.length === 0) return this.fallbackAnswer(opts, seenRaw, served);
    const sequence = new Int32Array(past.length + fresh.length);
    sequence.set(past);
    sequence.set(fresh, past.length);
    // A large catalogue with an ANN index in its bundle (ann-bundle.ts): search it, score no catalogue.
    const ann = annFor(served);
    if (ann) return { served, page: this.rankAnn(served, ann, dense !== undefined && fresh.length === 0 ? { users: Int32Array.of(dense), view: served.history } : userView(served, dense, sequence), opts, sequence, shunned) };
    let scores = this.buffer(served.model.nItems);
    if (served.sequential) {
      scores = await this.scoreBatched(served, sequence);
    } else if (dense !== undefined && fresh.length === 0) {
      served.model.scoreUsers(Int32Array.of(dense), served.history, scores);
    } else {
      const { users, view } = userView(served, dense, sequence);
      served.model.scoreUsers(users, view, scores);
    }
    // Negative and read items are never recommended back (even with ?seen=true: the user said no).
    let seen: Int32Array | undefined = opts.excludeSeen === false ? undefined : sequence;
    if (shunned.length > 0) seen = seen ? Int32Array.from([...seen, ...shunned]) : Int32Array.from(shunned);
    return { served, page: this.rank(served, scores, opts, seen) };
  }

  /** Recommendations for an anonymous sequence of raw item ids (oldest first). */
  async recommendSession(itemsRaw: readonly string[], opts: ListOptions): Promise<Answer> {
    const served = this.slot.current;
    const seenRaw = new Set(itemsRaw);
    if (!served) return this.fallbackAnswer(opts, seenRaw);
    const seq: number[] = [];
    for (const raw of itemsRaw) {
      const i = served.items.get(raw);
      if (i !== undefined) seq.push(i);
    }
    if (seq.length === 0) return this.fallbackAnswer(opts, seenRaw, served);
    const sequence = Int32Array.from(seq);
    let scores = this.buffer(served.model.nItems);
    if (served.sequential) scores = await this.scoreBatched(served, sequence);
    else this.scoreSequence(served, sequence, scores);
    const seen = opts.excludeSeen === false ? undefined : sequence;
    return modelAnswer(served, this.rank(served, scores, opts, seen));
  }

  /**
   * Items that follow or go with `item`: the model's scores for a history of that one item
   * (for EASE the item's row of B, for a sequential model its next-item distribution).
   * Undefined when the model does not know the item.
   */
  neighbors(item: string, opts: ListOptions): Answer | undefined {
    const served = this.slot.current;
    const i = served?.items.get(item);
    if (!served || i === undefined) return undefined;
    const scores = this.buffer(served.model.nItems);
    this.scoreSequence(served, Int32Array.of(i), scores);
    return modelAnswer(served, this.rank(served, scores, opts, Int32Array.of(i)));
  }

  /** Users whose training histories are most like `user`'s (see user-neighbors.ts); none for a user the model does not know. */
  userNeighbors(user: string, opts: ListOptions): Answer {
    const served = this.slot.current;
    if (!served) return { items: [], strategy: 'model' };
    const items = this.neighborsOfUsers.find(served, user, opts.offset, opts.n);
    return items.length === 0 && served.users.get(user) === undefined ? { items, strategy: 'model' } : { items, strategy: 'model', model: { name: served.name, version: served.version } };
  }

  /**
   * Scores a sequence with a sequential model, batched with the other requests of this
   * event-loop turn: one `scoreUsers` call over all their sequences amortizes the per-call cost
   * of the network (thread dispatch, weight passes) — several times cheaper per sequence than
   * one `scoreSequence` each. Requests that arrive while a batch computes form the next batch.
   */
  private scoreBatched(served: ServedModel, sequence: Int32Array): Promise<Float32Array> {
    if (this.options.maxBatch <= 1) {
      const out = new Float32Array(served.model.nItems);
      (served.model as unknown as { scoreSequence(s: Int32Array, o: Float32Array): void }).scoreSequence(sequence, out);
      return Promise.resolve(out);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ served, sequence, resolve, reject });
      if (!this.batchScheduled) {
        this.batchScheduled = true;
        setImmediate(() => this.runBatches());
      }
    });
  }

  /** Scores every queued sequence, `maxBatch` at a time, grouped by model (a swap may split them). */
  private runBatches(): void {
    this.batchScheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let start = 0; start < queue.length; ) {
      const served = queue[start].served;
      let end = start;
      while (end < queue.length && end - start < this.options.maxBatch && queue[end].served === served) end++;
      const batch = queue.slice(start, end);
      start = end;
      const n = served.model.nItems;
      const offsets = new Int32Array(batch.length + 1);
      batch.forEach((b, r) => (offsets[r + 1] = offsets[r] + b.sequence.length));
      const items = new Int32Array(offsets[batch.length]);
      batch.forEach((b, r) => items.set(b.sequence, offsets[r]));
      const view: Interactions = { nUsers: batch.length, nItems: n, offsets, items, times: new Float64Array(items.length) };
      const out = new Float32Array(batch.length * n);
      try {
        served.model.scoreUsers(Int32Array.from(batch, (_, r) => r), view, out);
      } catch (e) {
        for (const b of batch) b.reject(e as Error);
        continue;
      }
      batch.forEach((b, r) => b.resolve(out.subarray(r * n, (r + 1) * n)));
    }
  }

  /** Scores a sequence with any model: natively when sequential, as a one-user history otherwise. */
  private scoreSequence(served: ServedModel, sequence: Int32Array, scores: Float32Array): void {
    if (served.sequential) {
      (served.model as unknown as { scoreSequence(s: Int32Array, o: Float32Array): void }).scoreSequence(sequence, scores);
      return;
    }
    const { users, view } = userView(served, undefined, sequence);
    served.model.scoreUsers(users, view, scores);
  }

  /** {@link rank}'s page through the bundle's ANN index: the same filters, as a predicate. */
  private rankAnn(served: ServedModel, ann: AnnIndex, by: { users: Int32Array; view: Interactions }, opts: ListOptions, sequence: Int32Array, shunned: number[]): DensePage {
    const { hidden, outside } = this.catalog.masksFor(served, opts.category);
    const skip = new Set<number>(shunned);
    if (opts.excludeSeen !== false) for (const i of sequence) skip.add(i);
    for (const raw of opts.exclude ?? []) {
      const i = served.items.get(raw);
      if (i !== undefined) skip.add(i);
    }
    const top = annTopK(served, ann, by.users, by.view, opts.offset + opts.n, (i) => skip.has(i) || hidden[i] === 1 || (outside !== undefined && outside[i] === 1));
    return { items: top.items.slice(opts.offset), scores: top.scores.slice(opts.offset) };
  }

  /** Top `offset + n` over the model's scores with every filter applied, then the page. */
  private rank(served: ServedModel, scores: Float32Array, opts: ListOptions, seen?: Int32Array): DensePage {
    const { hidden, outside } = this.catalog.masksFor(served, opts.category);
    // Filtered items become NaN, which topK never selects, instead of a per-item callback: the
    // callback ran for every item of the catalogue (≈ 5 % of an uncached ML-1M EASE request).
    // `scores` is this request's own buffer, read by no one after the ranking.
    if (seen) for (const i of seen) scores[i] = Number.NaN;
    for (const raw of opts.exclude ?? []) {
      const i = served.items.get(raw);
      if (i !== undefined) scores[i] = Number.NaN;
    }
    const n = Math.min(scores.length, hidden.length);
    if (outside === undefined) {
      for (let i = 0; i < n; i++) if (hidden[i] === 1) scores[i] = Number.NaN;
    } else {
      for (let i = 0; i < n; i++) if (hidden[i] === 1 || outside[i] === 1) scores[i] = Number.NaN;
    }
    const top = topK(scores, opts.offset + opts.n);
    return { items: top.items.slice(opts.offset), scores: top.scores.slice(opts.offset) };
  }

  /**
   * The answer for a user the model cannot serve: the fallback chain (popular, then latest, by
   * default) fills the page, each strategy after the first only with items not already in it;
   * filtered like any recommendation. The answer's strategy is the first that gave an item.
   */
  private async fallbackAnswer(opts: ListOptions, seen: Set<string>, served?: ServedModel): Promise<Answer> {
    const excluded = new Set(opts.exclude ?? []);
    if (opts.excludeSeen !== false) for (const s of seen) excluded.add(s);
    const items: Scored[] = [];
    let strategy: Strategy | undefined;
    for (const source of this.options.fallback) {
      const list = source === 'popular' ? await this.popularList() : this.catalog.latest().map((it) => ({ id: it.id, score: it.time }));
      const got = this.filterList(list, { ...opts, offset: items.length === 0 ? opts.offset : 0, n: opts.n - items.length }, excluded);
      if (got.length === 0) continue;
      strategy ??= source;
      for (const s of got) {
        excluded.add(s.id);
        items.push(strategy === source ? s : { ...s, from: source });
      }
      if (items.length >= opts.n) break;
    }
    return { items, strategy: strategy ?? this.options.fallback[0] ?? 'popular', model: served ? { name: served.name, version: served.version } : undefined };
  }

  /** Popular items (training counts of the served model plus feedback counts in the store). */
  async popular(opts: ListOptions): Promise<Answer> {
    return { items: this.filterList(await this.popularList(), opts, new Set(opts.exclude ?? [])), strategy: 'popular' };
  }

  /** Newest visible items of the catalogue, score = publication time. */
  latest(opts: ListOptions): Answer {
    const list = this.catalog.latest().map((it) => ({ id: it.id, score: it.time }));
    return { items: this.filterList(list, opts, new Set(opts.exclude ?? [])), strategy: 'latest' };
  }

  /** Drops hidden, excluded and off-category items from a ranked list, then takes the page. */
  private filterList(list: readonly Scored[], opts: ListOptions, excluded: Set<string>): Scored[] {
    const served = this.slot.current;
    const out: Scored[] = [];
    let skipped = 0;
    for (const s of list) {
      if (excluded.has(s.id) || !this.catalog.visible(s.id)) continue;
      if (opts.category !== undefined) {
        const dense = served?.items.get(s.id);
        if (!this.catalog.inCategory(s.id, opts.category, dense === undefined ? undefined : served?.itemCategories[dense])) continue;
      }
      if (skipped < opts.offset) {
        skipped++;
        continue;
      }
      out.push(s);
      if (out.length >= opts.n) break;
    }
    return out;
  }

  /**
   * Positive events per item in the store: the listed positive types, or every type less the
   * negative, read and their counts (two reads of the maintained counters, no scan).
   */
  private async positiveCounts(): Promise<Map<string, number>> {
    const o = this.options;
    if (o.positiveTypes) return this.store.itemCounts(o.positiveTypes);
    const counts = await this.store.itemCounts();
    const others = [...o.negativeTypes, ...o.readTypes];
    if (others.length > 0) {
      for (const [item, n] of await this.store.itemCounts(others)) {
        const left = (counts.get(item) ?? 0) - n;
        if (left > 0) counts.set(item, left);
        else counts.delete(item);
      }
    }
    return counts;
  }

  /** The cached popular list, recomputed at most every `popularTtl` seconds (or on model swap). */
  async popularList(force = false): Promise<Scored[]> {
    const served = this.slot.current;
    const now = Date.now() / 1000;
    const c = this.popularCache;
    if (!force && c && c.model === served && now - c.at < this.options.popularTtl) return c.list;
    this.popularRefresh ??= (async () => {
      try {
        const counts = await this.positiveCounts();
        if (served) {
          for (let i = 0; i < served.popularity.length; i++) {
            const raw = served.items.toRaw(i);
            counts.set(raw, (counts.get(raw) ?? 0) + served.popularity[i]);
          }
        }
        const list = [...counts].map(([id, score]) => ({ id, score }));
        list.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        this.popularCache = { model: served, at: now, list };
        return list;
      } finally {
        this.popularRefresh = undefined;
      }
    })();
    return this.popularRefresh;
  }
}
