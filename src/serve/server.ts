/**
 * Running the service: open the store, load the model, listen, and shut down cleanly.
 *
 * Shutdown (SIGTERM / SIGINT): stop accepting connections, let in-flight requests finish (their
 * feedback commits), flush and close the store, exit 0. SIGHUP reloads the served model.
 *
 * `workers > 1` forks that many server processes sharing the port (node:cluster): one event loop
 * per core. They share the store — SQLite in WAL mode allows it (one writer at a time, busy
 * timeout), PostgreSQL naturally — and each follows item changes through the store.
 */
import cluster from 'node:cluster';
import { openStore, type Store } from './store.ts';
import { ModelSlot } from './slot.ts';
import { buildApp, type AppOptions, type Service } from './app.ts';

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
}

/** A running server. */
export interface RunningServer {
  service: Service;
  store: Store;
  /** The bound URL, e.g. http://127.0.0.1:8087. */
  url: string;
  /** Graceful stop: drain requests, close the store. */
  stop(): Promise<void>;
}

/** Opens the store, loads the model and listens. Does not install signal handlers. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const store = await openStore(options.db);
  let service: Service;
  try {
    const slot = new ModelSlot(options.models);
    service = await buildApp({ ...options, store, slot });
    await service.swapModel(options.model);
  } catch (e) {
    await store.close();
    throw e;
  }
  const url = await service.app.listen({ port: options.port, host: options.host });
  let stopping: Promise<void> | undefined;
  return {
    service,
    store,
    url,
    stop() {
      stopping ??= (async () => {
        await service.app.close(); // waits for in-flight requests
        await store.close(); // commits any pending group commit
      })();
      return stopping;
    },
  };
}

/**
 * The `reclab serve` process: starts the server (or a cluster of them), prints where it listens,
 * and handles SIGTERM/SIGINT (drain and exit) and SIGHUP (reload the model).
 */
export async function runServer(options: ServerOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  const workers = options.workers ?? 1;
  if (workers > 1 && cluster.isPrimary) {
    for (let w = 0; w < workers; w++) cluster.fork();
    let alive = workers;
    let stopping = false;
    cluster.on('exit', (worker, code, signal) => {
      alive--;
      if (!stopping) log(`reclab serve: worker ${worker.process.pid} exited (${signal ?? code}); stopping`);
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      if (alive === 0) process.exit(code ?? 0);
    });
    const forward = (sig: NodeJS.Signals) => () => {
      if (sig !== 'SIGHUP') stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(sig);
    };
    process.on('SIGTERM', forward('SIGTERM'));
    process.on('SIGINT', forward('SIGINT'));
    process.on('SIGHUP', forward('SIGHUP'));
    return;
  }
  const server = await startServer(options);
  log(`reclab serve: listening on ${server.url} (pid ${process.pid}, store ${server.store.kind})`);
  const shutdown = (sig: string) => {
    log(`reclab serve: ${sig}, draining…`);
    server.stop().then(
      () => process.exit(0),
      (e: Error) => {
        log(`reclab serve: shutdown failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    server.service.swapModel(options.model).then(
      (s) => log(`reclab serve: now serving ${s.name} ${s.version}`),
      (e: Error) => log(`reclab serve: reload failed, previous model keeps serving: ${e.message}`),
    );
  });
}
