/**
 * `reclab serve`: the recommendation service over trained models (see docs/serve.md).
 */
import type { Command } from 'commander';
import { runServer } from '../../serve/server.ts';
import { parseDuration } from '../../serve/http.ts';
import { RETRAIN_DEFAULTS } from '../../serve/retrain.ts';

/** Parses a non-negative integer flag, naming it on error. */
function int(flag: string, min = 0): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (!Number.isInteger(x) || x < min) throw new Error(`--${flag}: expected an integer ≥ ${min}, got "${value}"`);
    return x;
  };
}

/** Parses a share in [0, 1), naming the flag on error. */
function share(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (!Number.isFinite(x) || x < 0 || x >= 1) throw new Error(`--${flag}: expected a share in [0, 1), got "${value}"`);
    return x;
  };
}

/** Parses a Go duration (1h, 30m, 90s, 0) into seconds, naming the flag on error. */
function duration(flag: string): (value: string) => number {
  return (value: string) => {
    const x = parseDuration(value);
    if (x === undefined || x < 0) throw new Error(`--${flag}: expected a duration such as 1h, 30m or 0, got "${value}"`);
    return x;
  };
}

/** The retrain loop's settings, or undefined when --retrain-every is not given. */
function retrainOptions(o: {
  retrainEvery?: number;
  retrainHoldout: number;
  retrainTolerance: number;
  retrainMinNew: number;
  db: string;
  workers: number;
  positiveTypes?: string;
  negativeTypes: string;
  readTypes: string;
}) {
  if (o.retrainEvery === undefined) return undefined;
  // With --workers the loop runs once, in the cluster's primary (cluster-retrain.ts).
  if (o.retrainHoldout <= 0) throw new Error('--retrain-holdout: expected a share in (0, 1)');
  return {
    db: o.db,
    every: o.retrainEvery,
    holdout: o.retrainHoldout,
    tolerance: o.retrainTolerance,
    minNew: o.retrainMinNew,
    ...(o.positiveTypes ? { positiveTypes: list(o.positiveTypes) } : {}),
    negativeTypes: list(o.negativeTypes),
    readTypes: list(o.readTypes),
  };
}

/** A comma-separated list (empty entries dropped). */
const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);

/** The fallback chain of --fallback, each entry checked. */
function fallbacks(value: string): ('popular' | 'latest')[] {
  return list(value).map((s) => {
    if (s !== 'popular' && s !== 'latest') throw new Error(`--fallback: unknown strategy "${s}" (popular, latest)`);
    return s;
  });
}

/** Registers `reclab serve`. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('HTTP recommendation service: feedback in, recommendations out (OpenAPI at /docs)')
    .requiredOption('--models <dir>', 'a model trained with `reclab train`, or a directory of them (CURRENT names the served one)')
    .option('--model <name>', 'bundle under --models to serve first (default: CURRENT, else the newest)')
    .option('--db <url>', 'store: sqlite:<path> or postgres://user@host:port/db', 'sqlite:reclab.db')
    .option('--port <n>', 'port', int('port'), 8087)
    .option('--host <addr>', 'interface to bind', '127.0.0.1')
    .option('--api-key <key>', 'require this X-API-Key on /api routes (default: $RECLAB_API_KEY; none = open)')
    .option('--rate-limit <n>', 'requests per minute per client address on /api routes (0 = off)', int('rate-limit'), 60_000)
    .option('--body-limit <bytes>', 'largest request body', int('body-limit', 1), 4 * 1024 * 1024)
    .option('--workers <n>', 'server processes sharing the port (node:cluster); a primary replaces workers that die and keeps one model and one rate limit across them', int('workers', 1), 1)
    .option('--cache-size <n>', 'ranked answers cached per (user, filters); 0 = off', int('cache-size'), 50_000)
    .option('--cache-mb <n>', 'bound on the answer cache in MiB (estimated bytes, least recently used evicted first)', int('cache-mb', 1), 64)
    .option('--max-connections <n>', 'open connections at most; at the cap the stalest waiting client is evicted (default: open-file limit less 128)', int('max-connections', 16))
    .option('--request-timeout <s>', 'seconds a client has to send a whole request (headers within 10 s)', int('request-timeout', 1), 30)
    .option('--positive-types <list>', 'comma-separated feedback types that count as positive (default: every type not negative or read)')
    .option('--negative-types <list>', 'feedback types that say "not this": never the model\'s input, never recommended back', 'dislike')
    .option('--read-types <list>', 'feedback types that say "shown/read" (the usual write-back type): excluded from recommendations, not positive', 'read')
    .option('--fallback <list>', 'strategies that fill the list of a user the model cannot serve, in order (popular, latest)', 'popular,latest')
    .option('--explore-popular <share>', 'share of each model answer given to popular items (0–1)', share('explore-popular'), 0)
    .option('--explore-latest <share>', 'share of each model answer given to the newest items (0–1)', share('explore-latest'), 0)
    .option('--cors <origins>', 'allow these origins (comma-separated, or *) to call the API from browsers (default: no CORS)')
    .option('--online-window <s>', 'seconds after a recommendation in which positive feedback counts as its hit (online metrics)', int('online-window', 1), 3600)
    .option('--retrain-every <duration>', 'retrain from the stored feedback this often (Go duration: 1h, 30m; 0 = only on POST /api/model/retrain); swapped in only when the gate passes', duration('retrain-every'))
    .option('--retrain-holdout <share>', 'share of the new feedback, newest first, the gate holds out', share('retrain-holdout'), RETRAIN_DEFAULTS.holdout)
    .option('--retrain-tolerance <x>', 'the candidate may be this much worse in ndcg@10 and still be swapped in', share('retrain-tolerance'), RETRAIN_DEFAULTS.tolerance)
    .option('--retrain-min-new <n>', 'fewest new positive events worth a retrain', int('retrain-min-new', 1), RETRAIN_DEFAULTS.minNew)
    .option('--admin-key <key>', 'also require this X-Admin-Key on the admin routes (retrain, rollback); they always require --api-key')
    .option('--log', 'log every request (pino JSON on stdout)', false)
    .option('--ui', 'also serve the web dashboard at /ui/ over runs/ and docs/results (its data routes need --api-key when set; docs/ui.md)', false)
    .option('--replicas <redis-url>', 'one of several replicas over a shared --db postgres://…: model swaps go to every replica through this Redis (docs/scale.md)')
    .option('--replica-channel <name>', 'the replicas\' channel on that Redis (one per service)', 'reclab:serve')
    .option('--chat-llm <provider>', 'serve POST /api/chat with this model (openai:…, gguf:…, replay:…, scripted:…; docs/agents.md)')
    .option('--chat-data <source>', 'dataset whose titles ground chat answers (with --chat-llm)')
    .option('--chat-format <fmt>', 'reader format of --chat-data', 'auto')
    .option('--chat-db <path>', 'SQLite file of the chat sessions', 'chat-sessions.db')
    .action(async (o: {
      models: string;
      model?: string;
      db: string;
      port: number;
      host: string;
      apiKey?: string;
      rateLimit: number;
      bodyLimit: number;
      workers: number;
      positiveTypes?: string;
      negativeTypes: string;
      readTypes: string;
      fallback: string;
      explorePopular: number;
      exploreLatest: number;
      cors?: string;
      onlineWindow: number;
      retrainEvery?: number;
      retrainHoldout: number;
      retrainTolerance: number;
      retrainMinNew: number;
      adminKey?: string;
      cacheSize: number;
      cacheMb: number;
      maxConnections?: number;
      requestTimeout: number;
      log: boolean;
      replicas?: string;
      replicaChannel: string;
      ui: boolean;
      chatLlm?: string;
      chatData?: string;
      chatFormat: string;
      chatDb: string;
    }) => {
      if (o.chatLlm && !o.chatData) throw new Error('--chat-llm needs --chat-data <dataset> (its titles ground the answers)');
      // With --workers each worker is a replica of its own on the channel (a swap asked of any
      // worker reaches every worker of every machine); the primary's retrain loop swaps only its
      // own workers, so retraining there would leave the other replicas behind.
      if (o.replicas && o.workers > 1 && o.retrainEvery !== undefined) throw new Error('--replicas with --workers > 1: --retrain-every would swap only this machine\'s workers; retrain in a --workers 1 replica, or submit a `retrain` job (docs/scale.md)');
      await runServer({
        replicas: o.replicas,
        replicaChannel: o.replicaChannel,
        models: o.models,
        model: o.model,
        db: o.db,
        port: o.port,
        host: o.host,
        apiKey: o.apiKey ?? process.env.RECLAB_API_KEY,
        rateLimit: o.rateLimit,
        bodyLimit: o.bodyLimit,
        workers: o.workers,
        logger: o.log,
        maxConnections: o.maxConnections,
        requestTimeout: o.requestTimeout * 1000,
        cors: o.cors ? list(o.cors) : undefined,
        adminKey: o.adminKey ?? process.env.RECLAB_ADMIN_KEY,
        retrain: retrainOptions(o),
        onlineWindow: o.onlineWindow,
        ...(o.ui ? { ui: {} } : {}),
        ...(o.chatLlm ? { chat: { llm: o.chatLlm, data: o.chatData!, format: o.chatFormat, db: o.chatDb } } : {}),
        engine: {
          cacheSize: o.cacheSize,
          cacheBytes: o.cacheMb * 1024 * 1024,
          ...(o.positiveTypes ? { positiveTypes: list(o.positiveTypes) } : {}),
          negativeTypes: list(o.negativeTypes),
          readTypes: list(o.readTypes),
          fallback: fallbacks(o.fallback),
          explore: { popular: o.explorePopular, latest: o.exploreLatest },
        },
      });
    });
}
