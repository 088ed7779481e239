/**
 * Running the service: open the store, load the model, listen, and shut down cleanly.
 *
 * Shutdown (SIGTERM / SIGINT): stop accepting connections, let in-flight requests finish (their
 * feedback commits), flush and close the store, exit 0. SIGHUP reloads the served model.
 *
 * `workers > 1` runs a cluster (cluster.ts): a primary supervising that many server processes
 * sharing the port (node:cluster), one event loop per core. They share the store — SQLite in WAL
 * mode allows it (one writer at a time, busy timeout), PostgreSQL naturally — and each follows
 * item changes through the store; the primary keeps them on one model and one rate limit.
 */
import cluster from 'node:cluster';
import { openStore, type Store } from './store.ts';
import { ModelSlot } from './slot.ts';
import { buildApp, type AppOptions, type Service } from './app.ts';
import { runPrimary, runWorker, type ClusterSettings } from './cluster.ts';
import { ReplicaBus } from './replica.ts';

/** Options of {@link startServer}. */
export interface ServerOptions extends Omit<AppOptions, 'store' | 'slot'> {
  /** A bundle directory or a directory of bundles. */
  models: string;
  /** Which bundle under `models` to serve first (default: CURRENT or newest). */
  model?: string;
  /** Store URL: `sqlite:<path>` or `postgres://…`. */
  db: string;
  port: number;
  host: string;
  /** Server processes (node:cluster); 1 = this process only. */
  workers?: number;
  /** Supervision of the workers when `workers > 1`. */
  cluster?: ClusterSettings;
  /** Redis URL of the replicas' channel (replica.ts): swaps reach every replica sharing it. */
  replicas?: string;
  /** Channel name on that Redis (replicas of one service share it; default `reclab:serve`). */
  replicaChannel?: string;
}

/** A running server. */
export interface RunningServer {
  service: Service;
  store: Store;
  slot: ModelSlot;
  /** The bound URL, e.g. http://127.0.0.1:8087. */
  url: string;
  /** Graceful stop: drain requests, close the store. */
  stop(): Promise<void>;
}

/** Opens the store, loads the model and listens. Does not install signal handlers. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const store = await openStore(options.db);
  const slot = new ModelSlot(options.models);
  let service: Service | undefined;
  let url: string;
  let bus: ReplicaBus | undefined;
  try {
    // One process over SQLite is the store's only writer, so users' histories can stay in memory;
    // so can a cluster's workers over SQLite, which tell each other of their writes (cluster-history.ts).
    const historyCache = options.historyCache ?? (store.kind === 'sqlite' && ((options.workers ?? 1) <= 1 || options.historyPeers !== undefined));
    bus = options.replicas ? await ReplicaBus.connect(options.replicas, { channel: options.replicaChannel, log: options.log }) : undefined;
    service = await buildApp({ ...options, store, slot, historyCache, ...(bus ? { modelSwapper: bus.swapper } : {}) });
    await service.swapModel(options.model);
    await bus?.attach(service.swapModel); // and serve the replicas' last swap, if there was one
    url = await service.app.listen({ port: options.port, host: options.host });
  } catch (e) {
    // Nothing half-started stays behind: the app (if built) and the store are closed.
    await service?.app.close().catch(() => {});
    await bus?.close();
    await store.close();
    throw e;
  }
  const started = service;
  let stopping: Promise<void> | undefined;
  return {
    service: started,
    store,
    slot,
    url,
    stop() {
      stopping ??= (async () => {
        await started.app.close(); // waits for in-flight requests
        await bus?.close();
        await store.close(); // commits any pending group commit
      })();
      return stopping;
    },
  };
}

/**
 * The `reclab serve` process: starts the server (or a cluster of them, see cluster.ts), prints
 * where it listens, and handles SIGTERM/SIGINT (drain and exit) and SIGHUP (reload the model).
 */
export async function runServer(options: ServerOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  if ((options.workers ?? 1) > 1) {
    if (cluster.isPrimary) return runPrimary(options, log);
    return runWorker(options, startServer, log);
  }
  const server = await startServer(options);
  log(`reclab serve: listening on ${server.url} (pid ${process.pid}, store ${server.store.kind})`);
  let draining = false;
  const shutdown = (sig: string) => {
    // A second signal (e.g. Ctrl-C twice) must not kill the process halfway through the drain.
    if (draining) return;
    draining = true;
    log(`reclab serve: ${sig}, draining…`);
    server.stop().then(
      () => process.exit(0),
      (e: Error) => {
        log(`reclab serve: shutdown failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    server.service.swapModel(options.model).then(
      (s) => log(`reclab serve: now serving ${s.name} ${s.version}`),
      (e: Error) => log(`reclab serve: reload failed, previous model keeps serving: ${e.message}`),
    );
  });
}
