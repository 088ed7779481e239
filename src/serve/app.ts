/**
 * The HTTP application: Fastify with schema-first routes (schemas.ts), API-key auth, request size
 * and rate limits, Prometheus metrics and the OpenAPI document at /docs. Built over a store and a
 * model slot so tests and the CLI assemble it the same way; listening and signals are server.ts's job.
 *
 * Error policy: a bad request gets a 4xx with a message naming the field; nothing a client sends
 * may produce a 5xx (the fuzz test holds us to it). A 5xx means a bug or a store outage.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Type } from 'typebox';
import * as S from './schemas.ts';
import type { FeedbackEvent, ItemRecord, Store } from './store.ts';
import { Catalog } from './catalog.ts';
import { Engine, type Answer, type EngineOptions, type ListOptions } from './engine.ts';
import type { ModelSlot } from './slot.ts';
import type { ServedModel } from './bundle.ts';
import { ServeMetrics } from './metrics.ts';

/** Options of {@link buildApp}. */
export interface AppOptions {
  store: Store;
  slot: ModelSlot;
  /** Required value of `X-API-Key` on /api routes; undefined = no auth (development). */
  apiKey?: string;
  /** Requests per minute per client (API key or IP); 0 disables rate limiting. */
  rateLimit?: number;
  /** Largest request body in bytes. */
  bodyLimit?: number;
  /** Pino logging (off by default: it costs throughput). */
  logger?: boolean;
  engine?: Partial<EngineOptions>;
  /** Seconds between catalogue refreshes from the store (changes made by other replicas). */
  catalogRefresh?: number;
}

/** The assembled service. */
export interface Service {
  app: FastifyInstance;
  engine: Engine;
  catalog: Catalog;
  metrics: ServeMetrics;
  /** Loads (or reloads) the served model and seeds its items into the store. */
  swapModel(name?: string): Promise<ServedModel>;
}

/** Seconds since the epoch from an RFC 3339 string (already validated by the schema). */
function seconds(ts: string | undefined, fallback: number): number {
  if (ts === undefined) return fallback;
  const ms = Date.parse(ts);
  return Number.isFinite(ms) ? ms / 1000 : fallback;
}

/** RFC 3339 string of epoch seconds (out-of-range times clamp rather than throw). */
function iso(t: number): string {
  const d = new Date(t * 1000);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

function itemOut(it: ItemRecord) {
  return { ItemId: it.id, IsHidden: it.hidden, Categories: it.categories, Labels: it.labels, Timestamp: iso(it.time), Comment: it.comment };
}

function ranked(a: Answer) {
  return {
    Strategy: a.strategy,
    Model: a.model ? { Name: a.model.name, Version: a.model.version } : null,
    Items: a.items.map((s) => ({ ItemId: s.id, Score: Number.isFinite(s.score) ? s.score : 0 })),
  };
}

function listOptions(q: { n?: number; offset?: number; category?: string; exclude?: string; seen?: boolean }): ListOptions {
  return {
    n: q.n ?? 10,
    offset: q.offset ?? 0,
    category: q.category,
    exclude: q.exclude ? q.exclude.split(',').filter((s) => s.length > 0) : undefined,
    excludeSeen: q.seen !== true,
  };
}

/** An HTTP error with a status code (Fastify turns it into the error body). */
function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

/** Builds the Fastify app over `options.store` and `options.slot` (does not listen). */
export async function buildApp(options: AppOptions): Promise<Service> {
  const { store, slot } = options;
  const metrics = new ServeMetrics();
  const catalog = new Catalog(store);
  const engine = new Engine(store, slot, catalog, options.engine);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    // A client-chosen request id would let anyone spoof log lines; keep Fastify's counter.
    requestIdHeader: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.validation ? 400 : error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error(error);
    const message = error.message;
    void reply.status(status).send({ statusCode: status, error: status >= 500 ? 'Internal Server Error' : (error.code ?? 'Bad Request'), message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, method: request.method, code: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'reclab recommendation service', version: '1', description: 'Gorse-like REST API over reclab models' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', name: 'X-API-Key', in: 'header' } } },
      security: options.apiKey ? [{ apiKey: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Everything under /api needs the key (health, metrics and docs stay open for probes and people).
  const expected = options.apiKey ? createHash('sha256').update(options.apiKey).digest() : undefined;
  if (expected) {
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/api/')) return;
      const given = request.headers['x-api-key'];
      const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
      if (!timingSafeEqual(digest, expected)) throw httpError(401, 'missing or wrong X-API-Key');
    });
  }
  if ((options.rateLimit ?? 0) > 0) {
    await app.register(rateLimit, {
      max: options.rateLimit,
      timeWindow: 60_000,
      keyGenerator: (request) => (typeof request.headers['x-api-key'] === 'string' ? `k:${request.headers['x-api-key']}` : `ip:${request.ip}`),
      allowList: (request) => !request.url.startsWith('/api/'),
    });
  }

  async function swapModel(name?: string): Promise<ServedModel> {
    try {
      const served = await slot.swap(name);
      // The model's items join the catalogue (existing records, e.g. hidden flags, are kept).
      const items: ItemRecord[] = [];
      for (let i = 0; i < served.items.size; i++) {
        items.push({ id: served.items.toRaw(i), hidden: false, categories: served.itemCategories[i] ?? [], labels: [], time: served.firstSeen[i], comment: '' });
      }
      await store.insertMissingItems(items);
      await catalog.refresh();
      await engine.popularList(true);
      metrics.swaps.inc({ outcome: 'ok' });
      return served;
    } catch (e) {
      metrics.swaps.inc({ outcome: 'failed' });
      throw e;
    }
  }

  const tag = (t: string) => ({ tags: [t] });
  const errors = { 400: S.ErrorOut, 401: S.ErrorOut, 404: S.ErrorOut };

  // ---- health and metrics
  app.get('/health/live', { schema: { ...tag('health'), response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
  app.get(
    '/health/ready',
    { schema: { ...tag('health'), response: { 200: Type.Object({ ok: Type.Boolean(), store: Type.String(), model: Type.Union([Type.String(), Type.Null()]) }), 503: S.ErrorOut } } },
    async (_request, reply) => {
      try {
        await store.ping();
      } catch (e) {
        return reply.status(503).send({ statusCode: 503, error: 'Service Unavailable', message: `store: ${(e as Error).message}` });
      }
      const served = slot.current;
      if (!served) return reply.status(503).send({ statusCode: 503, error: 'Service Unavailable', message: 'no model loaded' });
      return { ok: true, store: store.kind, model: served.version };
    },
  );
  app.get('/metrics', { schema: { ...tag('health'), hide: true } }, async (_request, reply) => {
    void reply.header('content-type', 'text/plain; version=0.0.4');
    const c = engine.cacheStats;
    return `${metrics.render()}# HELP reclab_answer_cache_total Recommendation cache lookups by outcome
# TYPE reclab_answer_cache_total counter
reclab_answer_cache_total{outcome="hit"} ${c.hits}
reclab_answer_cache_total{outcome="miss"} ${c.misses}
`;
  });

  // ---- feedback
  const writeFeedback = (mode: 'insert' | 'upsert') => async (request: { body: S.FeedbackBody[] }) => {
    const now = Date.now() / 1000;
    const events: FeedbackEvent[] = request.body.map((f) => ({
      type: f.FeedbackType,
      user: f.UserId,
      item: f.ItemId,
      value: f.Value ?? 1,
      time: seconds(f.Timestamp, now),
    }));
    const n = await store.insertFeedback(events, mode);
    metrics.feedback.inc({}, n);
    return { RowAffected: n };
  };
  const feedbackSchema = (summary: string) => ({ ...tag('feedback'), summary, body: S.FeedbackBatch, response: { 200: S.RowAffected, ...errors } });
  app.post('/api/feedback', { schema: feedbackSchema('Append feedback events (acknowledged = committed)') }, writeFeedback('insert'));
  app.put('/api/feedback', { schema: feedbackSchema('Upsert feedback by (type, user, item)') }, writeFeedback('upsert'));

  // ---- users
  app.post('/api/user', { schema: { ...tag('users'), body: S.User, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    const u = request.body;
    await store.upsertUsers([{ id: u.UserId, labels: u.Labels ?? [], comment: u.Comment ?? '' }]);
    return { RowAffected: 1 };
  });
  app.post(
    '/api/users',
    { schema: { ...tag('users'), body: Type.Array(S.User, { minItems: 1, maxItems: S.MAX_BATCH }), response: { 200: S.RowAffected, ...errors } } },
    async (request) => {
      await store.upsertUsers(request.body.map((u) => ({ id: u.UserId, labels: u.Labels ?? [], comment: u.Comment ?? '' })));
      return { RowAffected: request.body.length };
    },
  );
  app.get('/api/user/:id', { schema: { ...tag('users'), params: S.IdParam, response: { 200: S.UserOut, ...errors } } }, async (request) => {
    const u = await store.getUser(request.params.id);
    if (!u) throw httpError(404, `user "${request.params.id}" not found`);
    return { UserId: u.id, Labels: u.labels, Comment: u.comment };
  });
  app.delete('/api/user/:id', { schema: { ...tag('users'), params: S.IdParam, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    if (!(await store.deleteUser(request.params.id))) throw httpError(404, `user "${request.params.id}" not found`);
    return { RowAffected: 1 };
  });
  app.get(
    '/api/users',
    { schema: { ...tag('users'), querystring: S.CursorQuery, response: { 200: Type.Object({ Cursor: Type.String(), Users: Type.Array(S.UserOut) }), ...errors } } },
    async (request) => {
      const page = await store.listUsers(request.query.cursor ?? '', request.query.n ?? 100);
      return { Cursor: page.cursor, Users: page.rows.map((u) => ({ UserId: u.id, Labels: u.labels, Comment: u.comment })) };
    },
  );
  app.get(
    '/api/user/:id/feedback',
    {
      schema: {
        ...tag('feedback'),
        summary: "A user's feedback in time order",
        params: S.IdParam,
        querystring: Type.Object({ n: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 })) }),
        response: { 200: Type.Array(S.FeedbackOut), ...errors },
      },
    },
    async (request) => {
      const events = await store.userFeedback(request.params.id, undefined, request.query.n ?? 1000);
      return events.map((e) => ({ FeedbackType: e.type, UserId: e.user, ItemId: e.item, Value: e.value, Timestamp: iso(e.time) }));
    },
  );

  // ---- items
  const toItem = (b: S.ItemBody, now: number): ItemRecord => ({
    id: b.ItemId,
    hidden: b.IsHidden ?? false,
    categories: b.Categories ?? [],
    labels: b.Labels ?? [],
    time: seconds(b.Timestamp, now),
    comment: b.Comment ?? '',
  });
  app.post('/api/item', { schema: { ...tag('items'), body: S.Item, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    await store.upsertItems([toItem(request.body, Date.now() / 1000)]);
    await catalog.refresh();
    return { RowAffected: 1 };
  });
  app.post(
    '/api/items',
    { schema: { ...tag('items'), body: Type.Array(S.Item, { minItems: 1, maxItems: S.MAX_BATCH }), response: { 200: S.RowAffected, ...errors } } },
    async (request) => {
      const now = Date.now() / 1000;
      await store.upsertItems(request.body.map((b) => toItem(b, now)));
      await catalog.refresh();
      return { RowAffected: request.body.length };
    },
  );
  app.get('/api/item/:id', { schema: { ...tag('items'), params: S.IdParam, response: { 200: S.ItemOut, ...errors } } }, async (request) => {
    const it = await store.getItem(request.params.id);
    if (!it) throw httpError(404, `item "${request.params.id}" not found`);
    return itemOut(it);
  });
  app.patch('/api/item/:id', { schema: { ...tag('items'), params: S.IdParam, body: S.ItemPatch, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    const it = await store.getItem(request.params.id);
    if (!it) throw httpError(404, `item "${request.params.id}" not found`);
    const p = request.body;
    await store.upsertItems([
      {
        id: it.id,
        hidden: p.IsHidden ?? it.hidden,
        categories: p.Categories ?? it.categories,
        labels: p.Labels ?? it.labels,
        time: seconds(p.Timestamp, it.time),
        comment: p.Comment ?? it.comment,
      },
    ]);
    await catalog.refresh();
    return { RowAffected: 1 };
  });
  app.delete('/api/item/:id', { schema: { ...tag('items'), params: S.IdParam, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    if (!(await store.deleteItem(request.params.id))) throw httpError(404, `item "${request.params.id}" not found`);
    await catalog.refresh();
    return { RowAffected: 1 };
  });
  app.get(
    '/api/items',
    { schema: { ...tag('items'), querystring: S.CursorQuery, response: { 200: Type.Object({ Cursor: Type.String(), Items: Type.Array(S.ItemOut) }), ...errors } } },
    async (request) => {
      const page = await store.listItems(request.query.cursor ?? '', request.query.n ?? 100);
      return { Cursor: page.cursor, Items: page.rows.map(itemOut) };
    },
  );

  // ---- recommendations
  const rankedResponse = { 200: S.Ranked, ...errors };
  app.get(
    '/api/recommend/:id',
    { schema: { ...tag('recommend'), summary: 'Recommendations for a user, from their latest events', params: S.IdParam, querystring: S.RecommendQuery, response: rankedResponse } },
    async (request) => {
      const answer = await engine.recommendUser(request.params.id, listOptions(request.query));
      metrics.answers.inc({ strategy: answer.strategy });
      return ranked(answer);
    },
  );
  app.post(
    '/api/session/recommend',
    { schema: { ...tag('recommend'), summary: 'Recommendations for an anonymous session', querystring: S.ListQuery, body: S.SessionBody, response: rankedResponse } },
    async (request) => {
      // Events with times are ordered by them; the rest keep their position (stable sort).
      const events = request.body.map((e, k) => ({ id: e.ItemId, t: seconds(e.Timestamp, Number.NaN), k }));
      events.sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) ? a.k - b.k : a.t - b.t || a.k - b.k));
      const answer = await engine.recommendSession(events.map((e) => e.id), listOptions(request.query));
      metrics.answers.inc({ strategy: answer.strategy });
      return ranked(answer);
    },
  );
  app.get(
    '/api/item/:id/neighbors',
    { schema: { ...tag('recommend'), summary: 'Items that go with an item', params: S.IdParam, querystring: S.ListQuery, response: rankedResponse } },
    async (request) => {
      const answer = engine.neighbors(request.params.id, listOptions(request.query));
      if (!answer) throw httpError(404, `item "${request.params.id}" is unknown to the served model`);
      return ranked(answer);
    },
  );
  app.get('/api/popular', { schema: { ...tag('recommend'), querystring: S.ListQuery, response: rankedResponse } }, async (request) =>
    ranked(await engine.popular(listOptions(request.query))),
  );
  app.get('/api/latest', { schema: { ...tag('recommend'), querystring: S.ListQuery, response: rankedResponse } }, async (request) =>
    ranked(engine.latest(listOptions(request.query))),
  );

  // ---- served model
  const modelStatus = async () => {
    const m = slot.current;
    return {
      Name: m?.name ?? null,
      Version: m?.version ?? null,
      Sequential: m?.sequential ?? false,
      Dataset: m?.dataset ?? null,
      Users: m?.users.size ?? 0,
      Items: m?.items.size ?? 0,
      Swaps: slot.swaps,
      Available: await slot.available(),
    };
  };
  app.get('/api/model', { schema: { ...tag('model'), response: { 200: S.ModelStatus, ...errors } } }, modelStatus);
  app.put(
    '/api/model',
    { schema: { ...tag('model'), summary: 'Load a model and swap it in atomically', body: S.ModelSelect, response: { 200: S.ModelStatus, ...errors } } },
    async (request) => {
      try {
        await swapModel(request.body.Name);
      } catch (e) {
        throw httpError(400, `model not swapped, the previous one keeps serving: ${(e as Error).message}`);
      }
      return modelStatus();
    },
  );

  const refresh = setInterval(() => void catalog.refresh().catch(() => {}), (options.catalogRefresh ?? 2) * 1000);
  refresh.unref();
  app.addHook('onClose', async () => clearInterval(refresh));
  await app.ready();
  return { app, engine, catalog, metrics, swapModel };
}
