/**
 * The HTTP application: Fastify with schema-first routes (schemas.ts), one plugin scope for the
 * API with its guards, health and metrics outside it, and the OpenAPI document at /docs. Built
 * over a store and a model slot so tests and the CLI assemble it the same way; listening and
 * signals are server.ts's job.
 *
 * Guards are decided on the route the router matched, never on the raw URL: authentication and
 * rate limiting are hooks of the encapsulated `/api` scope, so they run for every route in it
 * however the path was spelled (`/%61pi/…` reaches the same route, and the same hooks).
 *
 * Error policy: a bad request gets a 4xx with a message naming the field; nothing a client sends
 * may produce a 5xx (the fuzz test holds us to it). A 503 (with Retry-After) means the store is
 * away for now; a 500 means a bug, and its body says only that (the details go to the log).
 */
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import cors from '@fastify/cors';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Type } from 'typebox';
import * as S from './schemas.ts';
import type { ItemRecord, Store, VoteStore } from './store.ts';
import { Catalog } from './catalog.ts';
import { ENGINE_DEFAULTS, Engine, type EngineOptions } from './engine.ts';
import { withHistoryCache, type HistoryCache, type HistoryPeers } from './history-cache.ts';
import type { ModelSlot } from './slot.ts';
import type { ServedModel } from './bundle.ts';
import { ServeMetrics } from './metrics.ts';
import { OnlineMetrics } from './online.ts';
import { httpError, reason } from './http.ts';
import { defaultMaxConnections, guardConnections, type ConnectionStats } from './connections.ts';
import type { Api, ServeContext } from './routes/context.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { userRoutes } from './routes/users.ts';
import { itemRoutes } from './routes/items.ts';
import { recommendRoutes } from './routes/recommend.ts';
import { modelRoutes } from './routes/model.ts';
import { adminRoutes } from './routes/admin.ts';
import { chatRoutes, openChatService, type ChatConfig } from './routes/chat.ts';
import { uiPlugin, type UiOptions } from './ui/plugin.ts';
import { Retrainer, slotModels, type RetrainControl, type RetrainOptions } from './retrain.ts';

/** Options of {@link buildApp}. */
export interface AppOptions {
  store: Store;
  slot: ModelSlot;
  /** Required value of `X-API-Key` on /api routes; undefined = no auth (development). */
  apiKey?: string;
  /** Requests per minute per client IP on /api routes; 0 disables rate limiting. */
  rateLimit?: number;
  /** Largest request body in bytes. */
  bodyLimit?: number;
  /** Pino logging (off by default: it costs throughput). */
  logger?: boolean;
  engine?: Partial<EngineOptions>;
  /** Seconds between catalogue refreshes from the store (changes made by other replicas). */
  catalogRefresh?: number;
  /** Milliseconds a client has to send a whole request, headers and body (default 30 s). */
  requestTimeout?: number;
  /** Milliseconds a client has to send the request headers (default 10 s). */
  headersTimeout?: number;
  /** Most open connections; at the cap the stalest waiting one is evicted (default: from the fd limit). */
  maxConnections?: number;
  /**
   * Swaps the served model everywhere it is served (cluster mode: every worker, serialised by
   * the primary). Given `local` — this process's own swap — it resolves once every replica
   * serves `name`. Default: `local` alone.
   */
  modelSwapper?: (name: string | undefined, local: (name?: string) => Promise<ServedModel>) => Promise<void>;
  /**
   * Counter store of the rate limiter (a `@fastify/rate-limit` store class). Default: in this
   * process's memory; cluster mode passes one that counts in the primary, so the limit holds
   * across workers.
   */
  rateLimitStore?: unknown;
  /**
   * Origins allowed by CORS: `*` (any), or a list of origins (`https://a.example`); undefined or
   * empty = no CORS headers (browsers on other origins are refused, as by default).
   */
  cors?: string[];
  /** Seconds after a recommendation within which positive feedback counts as its hit (online metrics). */
  onlineWindow?: number;
  /** The retrain loop (retrain.ts); undefined = off (the admin routes answer 409). */
  retrain?: RetrainOptions;
  /**
   * The loop run elsewhere (cluster mode: the primary's, through IPC); the admin routes drive it
   * and `retrain` is ignored.
   */
  retrainControl?: RetrainControl;
  /** Extra key the admin routes require in `X-Admin-Key` (they always require the API key). */
  adminKey?: string;
  /** Log lines of the retrain loop (default: stderr). */
  log?: (line: string) => void;
  /**
   * Keep users' recent feedback in memory in front of the store (history-cache.ts). Exact only
   * when this process is the store's only writer: startServer turns it on for one process over
   * SQLite. Default off.
   */
  historyCache?: boolean;
  /**
   * The other processes writing the same store (cluster workers, cluster-history.ts): the history
   * cache tells them of its writes and takes theirs. Used only with `historyCache`.
   */
  historyPeers?: { peers: HistoryPeers; attach(cache: HistoryCache): void };
  /**
   * The web dashboard at /ui/ (`reclab serve --ui`): the folders it shows; votes go to `store`.
   * Its data routes require `apiKey` when set.
   */
  ui?: Pick<UiOptions, 'roots' | 'datasets'>;
  /** Conversational recommendation at /api/chat (docs/agents.md); off when absent. */
  chat?: ChatConfig;
}

/** The assembled service. */
export interface Service {
  app: Api;
  engine: Engine;
  catalog: Catalog;
  metrics: ServeMetrics;
  online: OnlineMetrics;
  retrainer?: RetrainControl;
  connections: ConnectionStats;
  /** Loads (or reloads) the served model in this process and seeds its items into the store. */
  swapModel(name?: string): Promise<ServedModel>;
}

/** Builds the Fastify app over `options.store` and `options.slot` (does not listen). */
export async function buildApp(options: AppOptions): Promise<Service> {
  const { slot } = options;
  const history = options.historyCache ? withHistoryCache(options.store, { cap: options.engine?.historyLimit ?? ENGINE_DEFAULTS.historyLimit }, options.historyPeers?.peers) : undefined;
  if (history) options.historyPeers?.attach(history.cache);
  const store = history?.store ?? options.store;
  const metrics = new ServeMetrics();
  const catalog = new Catalog(store);
  const engine = new Engine(store, slot, catalog, options.engine);
  const online = new OnlineMetrics((type) => engine.feedbackKind(type), options.onlineWindow ?? 3600);
  const requestTimeout = options.requestTimeout ?? 30_000;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    // A client-chosen request id would let anyone spoof log lines; keep Fastify's counter.
    requestIdHeader: false,
    // Path ids are checked against MAX_ID characters after decoding; the raw segment may be up to
    // 12× longer (a 4-byte UTF-8 character percent-encodes to 12), so the router must not cut first.
    // Gorse's clients call some routes with a trailing slash (/api/popular/, /api/item/x/neighbors/).
    routerOptions: { maxParamLength: S.MAX_ID * 12, ignoreTrailingSlash: true },
    requestTimeout,
    connectionTimeout: 60_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false }, plugins: [S.ajvPlugin as never] },
    return503OnClosing: true,
    // Errors the router raises before any route (a path that does not decode) get our body shape.
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      void (reply as FastifyReply).status(status).send({ statusCode: status, error: reason(status), message: error.message });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = Math.min(options.headersTimeout ?? 10_000, requestTimeout);
  const connections = guardConnections(app.server, options.maxConnections ?? defaultMaxConnections());

  app.setErrorHandler((error: FastifyError & { retryAfter?: number }, request, reply) => {
    const status = error.validation ? 400 : error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status === 503) void reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter ?? 1))));
    let message = error.message;
    if (status >= 500 && status !== 503) {
      // The cause goes to the log, never to the client (it may name files, SQL or internals).
      request.log.error(error);
      metrics.errors.inc({ route: request.routeOptions.url ?? 'unmatched' });
      message = `internal error (request ${request.id})`;
    } else if (status === 503) {
      message = `service unavailable, retry later: ${error.message}`;
    }
    void reply.status(status).send({ statusCode: status, error: reason(status), message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ statusCode: 404, error: reason(404), message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  app.addHook('onResponse', async (request, reply) => {
    // The matched route's template: every spelling of a path is filed under the route it reached.
    const route = request.routeOptions.url ?? 'unmatched';
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
  if (options.cors && options.cors.length > 0) {
    await app.register(cors, {
      origin: options.cors.includes('*') ? '*' : options.cors,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['content-type', 'x-api-key', 'idempotency-key', 'reclab-format'],
      exposedHeaders: ['idempotent-replayed', 'retry-after'],
      maxAge: 600,
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
  const ctx: ServeContext = {
    store,
    slot,
    engine,
    catalog,
    metrics,
    online,
    swapEverywhere: async (name) => {
      if (options.modelSwapper) await options.modelSwapper(name, swapModel);
      else await swapModel(name);
    },
  };

  if (options.retrainControl) ctx.retrainer = options.retrainControl;
  else if (options.retrain) {
    const retrainer = new Retrainer(slotModels(slot), options.retrain, (name) => ctx.swapEverywhere(name), options.log);
    await retrainer.start();
    ctx.retrainer = retrainer;
    app.addHook('onClose', async () => retrainer.stop());
  }
  healthRoutes(app, ctx, connections, history?.cache.stats);
  await app.register(
    async (api) => {
      // Rate limiting first (onRequest), then authentication (preParsing): requests with a wrong
      // key count against the limit too, and no body is parsed before the key is checked.
      if ((options.rateLimit ?? 0) > 0) {
        await api.register(rateLimit, {
          global: true,
          max: options.rateLimit,
          timeWindow: 60_000,
          // The client's address: a header the client chooses (such as X-API-Key) would let it
          // rotate values to dodge the limit.
          keyGenerator: (request) => request.ip,
          ...(options.rateLimitStore ? { store: options.rateLimitStore as never } : {}),
          errorResponseBuilder: (_request, context) =>
            Object.assign(new Error(`rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`), { statusCode: 429 }),
        });
      }
      const expected = options.apiKey ? createHash('sha256').update(options.apiKey).digest() : undefined;
      if (expected) {
        api.addHook('preParsing', async (request) => {
          const given = request.headers['x-api-key'];
          const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
          if (!timingSafeEqual(digest, expected)) throw httpError(401, 'missing or wrong X-API-Key');
        });
      }
      // axios (gorsejs) labels a body-less PUT/DELETE application/x-www-form-urlencoded; an empty
      // body of that type is no body. A non-empty one is still refused: the API speaks JSON.
      api.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, text, done) => {
        if (text === '') done(null, undefined);
        else done(httpError(415, 'unsupported media type application/x-www-form-urlencoded: send JSON'), undefined);
      });
      feedbackRoutes(api, ctx);
      userRoutes(api, ctx);
      itemRoutes(api, ctx);
      recommendRoutes(api, ctx);
      modelRoutes(api, ctx);
      adminRoutes(api, ctx, { apiKey: options.apiKey, adminKey: options.adminKey });
      if (options.chat) chatRoutes(api, await openChatService(options.chat));
    },
    { prefix: '/api' },
  );

  if (options.ui) {
    if (!('insertVote' in options.store)) throw new Error('--ui: this store keeps no votes (use a sqlite: or postgres:// store)');
    await app.register(uiPlugin, { ...options.ui, votes: options.store as Store & VoteStore, apiKey: options.apiKey, service: true, prefix: '/ui' });
  }

  const refresh = setInterval(() => void catalog.refresh().catch(() => {}), (options.catalogRefresh ?? 2) * 1000);
  refresh.unref();
  app.addHook('onClose', async () => clearInterval(refresh));
  await app.ready();
  return { app, engine, catalog, metrics, online, retrainer: ctx.retrainer, connections, swapModel };
}

/** Liveness, readiness and metrics: outside the API scope (probes and scrapers carry no key). */
function healthRoutes(app: Api, { store, slot, engine, metrics, online }: ServeContext, connections: ConnectionStats, history?: { hits: number; misses: number }): void {
  const tag = { tags: ['health'] };
  // Gorse's probes, at Gorse's paths and shapes; open like ours (Gorse's auth skips /api/health/).
  // Gorse's cache store is this process's memory here: always connected.
  const gorseHealth = async () => {
    const error = await store.ping().then(
      () => null,
      (e: Error) => e.message,
    );
    return { Ready: error === null && slot.current !== undefined, DataStoreError: error, CacheStoreError: null, DataStoreConnected: error === null, CacheStoreConnected: true };
  };
  app.get('/api/health/live', { schema: { ...tag, summary: "Gorse's liveness probe", response: { 200: S.GorseHealth } } }, gorseHealth);
  app.get(
    '/api/health/ready',
    { schema: { ...tag, summary: "Gorse's readiness probe: 503 unless the store commits and a model is loaded", response: { 200: S.GorseHealth, 503: S.GorseHealth } } },
    async (_request, reply) => {
      const health = await gorseHealth();
      if (!health.Ready) void reply.status(503).header('retry-after', '5');
      return health;
    },
  );
  app.get('/metrics/online', { schema: { ...tag, summary: 'Online positive-feedback rate of recommended items, per model version and strategy', response: { 200: S.OnlineOut } } }, async () => ({
    WindowSeconds: online.window,
    Rows: online.rows().map((r) => ({ Model: r.model, Version: r.version, Strategy: r.strategy, Exposed: r.exposed, Positive: r.positive, Rate: r.rate })),
  }));
  app.get('/health/live', { schema: { ...tag, response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
  app.get(
    '/health/ready',
    { schema: { ...tag, response: { 200: Type.Object({ ok: Type.Boolean(), store: Type.String(), model: Type.Union([Type.String(), Type.Null()]) }), 503: S.ErrorOut } } },
    async (_request, reply) => {
      // Ready means a write can commit now: ping() commits a probe row.
      try {
        await store.ping();
      } catch (e) {
        return reply.status(503).header('retry-after', '5').send({ statusCode: 503, error: reason(503), message: `store cannot commit: ${(e as Error).message}` });
      }
      const served = slot.current;
      if (!served) return reply.status(503).send({ statusCode: 503, error: reason(503), message: 'no model loaded' });
      return { ok: true, store: store.kind, model: served.version };
    },
  );
  app.get('/metrics', { schema: { ...tag, hide: true } }, async (_request, reply) => {
    void reply.header('content-type', 'text/plain; version=0.0.4');
    const c = engine.cacheStats;
    return `${metrics.render()}${online.render()}# HELP reclab_answer_cache_total Recommendation cache lookups by outcome
# TYPE reclab_answer_cache_total counter
reclab_answer_cache_total{outcome="hit"} ${c.hits}
reclab_answer_cache_total{outcome="miss"} ${c.misses}
# HELP reclab_answer_cache_bytes Estimated bytes held by the answer cache
# TYPE reclab_answer_cache_bytes gauge
reclab_answer_cache_bytes ${c.bytes}
# HELP reclab_history_cache_total Reads of users' histories answered from this process's memory or from the store
# TYPE reclab_history_cache_total counter
reclab_history_cache_total{outcome="hit"} ${history?.hits ?? 0}
reclab_history_cache_total{outcome="miss"} ${history?.misses ?? 0}
# HELP reclab_connections_open Open HTTP connections
# TYPE reclab_connections_open gauge
reclab_connections_open ${connections.open}
# HELP reclab_connections_evicted_total Waiting connections closed to admit new ones at the connection cap
# TYPE reclab_connections_evicted_total counter
reclab_connections_evicted_total ${connections.evicted}
`;
  });
}
