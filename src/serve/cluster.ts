/**
 * `reclab serve --workers N`: a primary process that supervises N server processes (node:cluster)
 * sharing one port.
 *
 * The primary serves no requests. It
 * - replaces a worker that died, with backoff, and gives up — stopping the others and exiting
 *   non-zero — after repeated rapid failures (cluster-restarts.ts), so a supervisor above it sees
 *   a crash loop as a failure;
 * - on SIGTERM/SIGINT tells every worker to drain and exits 0 only if all of them drained and
 *   exited 0 (a worker still busy after `drainMs` is killed and the exit is 1);
 * - on SIGHUP reloads the model in every worker, through the same queue as `PUT /api/model`
 *   (cluster-models.ts);
 * - holds the rate-limit counters, so the limit is per cluster, not per worker (cluster-ratelimit.ts);
 * - relays each worker's feedback writes to the others before they start, so every worker can keep
 *   users' histories in memory (cluster-history.ts).
 *
 * A worker that cannot start (store, model, port) logs why and exits 1; one that loses its
 * channel to the primary (the primary was killed) drains and exits instead of running orphaned.
 *
 * Log lines (stderr) that scripts and tests may rely on:
 *   `reclab serve: worker <pid> ready on <url> (…)` — one worker listens
 *   `reclab serve: listening on <url> (primary pid <pid>, workers <pid>,<pid>, store <kind>)` — all listen, once
 *   `reclab serve: worker <pid> replaced <pid> …` — a replacement listens
 */
import cluster, { type Worker } from 'node:cluster';
import type { RunningServer, ServerOptions } from './server.ts';
import { Rpc } from './cluster-rpc.ts';
import { RestartPolicy, type RestartOptions } from './cluster-restarts.ts';
import { WindowCounter, clusterRateLimitStore, serveRateLimit } from './cluster-ratelimit.ts';
import { ModelCoordinator, clusterModelSwapper, resolveModelName, serveModelSwaps, type ModelLabel, type SwapWorker } from './cluster-models.ts';
import { primaryRetrainer, remoteRetrainer, serveRetrains } from './cluster-retrain.ts';
import { ClusterHistory, HistoryHub } from './cluster-history.ts';

/** Tuning of cluster mode (defaults suit production; tests shorten them). */
export interface ClusterSettings {
  /** When to replace a dead worker and when to give up. */
  restart?: Partial<RestartOptions>;
  /** Milliseconds a worker may take to drain on shutdown before it is killed (default 30 s). */
  drainMs?: number;
  /** Milliseconds each worker may take to load a model in a cluster-wide swap (default 60 s). */
  swapTimeoutMs?: number;
}

/** The model name a worker starts on, set by the primary (the pinned model; see cluster-models.ts). */
const MODEL_ENV = 'RECLAB_CLUSTER_MODEL';

/** What a worker tells the primary once it listens. */
interface ReadyNote {
  url: string;
  store: string;
  model: ModelLabel | null;
}

/** The primary's view of one worker process. */
interface Member extends SwapWorker {
  worker: Worker;
  rpc: Rpc;
  startedAt: number;
  /** The coordinator's generation when it was forked (the model it was told to start on). */
  generation: number;
  ready: boolean;
  /** Being replaced on purpose: its exit is not a failure. */
  retiring: boolean;
  /** The worker it replaces, and when that one died. */
  replaces?: { pid: number; diedAt: number };
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

/** Runs the cluster primary: forks `options.workers` workers and supervises them until a signal or a crash loop. */
export async function runPrimary(options: ServerOptions, log: (line: string) => void): Promise<void> {
  const size = options.workers ?? 2;
  const settings = options.cluster ?? {};
  const drainMs = settings.drainMs ?? 30_000;
  // Named once here, so every worker starts on the same bundle even if CURRENT changes meanwhile.
  const pinned = await resolveModelName(options.models, options.model);
  const policy = new RestartPolicy(settings.restart);
  const counter = new WindowCounter();
  const members = new Set<Member>();
  const serving = () => [...members].filter((m) => m.ready && !m.retiring);
  const coordinator = new ModelCoordinator(options.models, pinned, serving, log, settings.swapTimeoutMs);
  // The production loop runs here, once for the cluster; workers' admin routes reach it over IPC.
  const retrainer = options.retrain ? primaryRetrainer(options.models, coordinator, options.retrain, log) : undefined;
  const respawns = new Set<NodeJS.Timeout>();
  const history = new HistoryHub<Member>((member, why) => retire(member, why));
  let announced = false;
  let stopping: { failed: boolean; unclean: string[] } | undefined;

  const spawn = (replaces?: Member['replaces']) => {
    const generation = coordinator.generation;
    const worker = cluster.fork({ [MODEL_ENV]: JSON.stringify({ name: coordinator.pinned }) });
    const rpc = new Rpc((message, done) => worker.send(message, done));
    const member: Member = {
      pid: worker.process.pid ?? 0,
      worker,
      rpc,
      startedAt: Date.now(),
      generation,
      ready: false,
      retiring: false,
      replaces,
      swap: (name, timeoutMs) => rpc.request<ModelLabel>('model.swap', { name }, timeoutMs),
      restart: (reason) => retire(member, reason),
    };
    members.add(member);
    worker.on('message', (message) => rpc.receive(message));
    worker.on('exit', (code, signal) => onExit(member, code, signal));
    serveRateLimit(rpc, counter);
    rpc.handle<{ name?: string }>('model.swapAll', ({ name }) => coordinator.swapAll(name));
    rpc.handle<ReadyNote>('ready', (note) => onReady(member, note));
    if (retrainer) serveRetrains(rpc, retrainer);
    history.serve(member);
  };

  const onReady = (member: Member, note: ReadyNote) => {
    if (!members.has(member) || stopping) return;
    member.ready = true;
    if (member.replaces) {
      log(`reclab serve: worker ${member.pid} replaced ${member.replaces.pid}, serving ${seconds(Date.now() - member.replaces.diedAt)} s after it died`);
    }
    if (!announced && serving().length === size) {
      announced = true;
      const pids = serving().map((m) => m.pid);
      log(`reclab serve: listening on ${note.url} (primary pid ${process.pid}, workers ${pids.join(',')}, store ${note.store})`);
    }
    // A swap may have gone through while it was starting on the model pinned at its fork.
    void coordinator.align(member, member.generation);
  };

  const retire = (member: Member, reason: string) => {
    if (member.retiring || !members.has(member)) return;
    member.retiring = true;
    log(`reclab serve: restarting worker ${member.pid}: ${reason}`);
    member.worker.process.kill('SIGTERM');
    const kill = setTimeout(() => member.worker.process.kill('SIGKILL'), drainMs);
    kill.unref();
  };

  const onExit = (member: Member, code: number | null, signal: string | null) => {
    members.delete(member);
    history.leave(member);
    member.rpc.close(`worker ${member.pid} exited`);
    const how = signal ?? `code ${code}`;
    const now = Date.now();
    if (stopping) {
      // A worker that never listened had nothing to drain; a SIGTERM before its handlers were
      // installed is not a failed drain.
      const clean = code === 0 || (!member.ready && signal === 'SIGTERM');
      if (!clean) stopping.unclean.push(`${member.pid} (${how})`);
      if (members.size === 0) finish();
      return;
    }
    if (member.retiring) {
      spawn({ pid: member.pid, diedAt: now });
      return;
    }
    const lived = now - member.startedAt;
    const delay = policy.onDeath(lived);
    if (delay === undefined) {
      log(`reclab serve: worker ${member.pid} exited (${how}) after ${seconds(lived)} s — ${policy.rapidFailures} rapid failures in a row, giving up`);
      stop(true);
      return;
    }
    log(`reclab serve: worker ${member.pid} exited (${how}) after ${seconds(lived)} s; replacing it in ${delay} ms`);
    const timer = setTimeout(() => {
      respawns.delete(timer);
      spawn({ pid: member.pid, diedAt: now });
    }, delay);
    respawns.add(timer);
  };

  const stop = (failed: boolean) => {
    if (stopping) return;
    stopping = { failed, unclean: [] };
    // A retrain's child is ended and nothing more is swapped in (the coordinator refuses too).
    void retrainer?.stop();
    coordinator.close('the server is stopping');
    for (const timer of respawns) clearTimeout(timer);
    respawns.clear();
    if (members.size === 0) return finish();
    for (const m of members) m.worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const m of members) {
        stopping!.unclean.push(`${m.pid} (did not drain within ${drainMs} ms)`);
        m.worker.process.kill('SIGKILL');
      }
    }, drainMs).unref();
  };

  const finish = () => {
    const { failed, unclean } = stopping!;
    if (unclean.length > 0) log(`reclab serve: workers that did not drain cleanly: ${unclean.join(', ')}`);
    const code = failed || unclean.length > 0 ? 1 : 0;
    log(code === 0 ? 'reclab serve: all workers drained; exiting' : 'reclab serve: exiting 1');
    process.exit(code);
  };

  const drainOn = (signal: NodeJS.Signals) => () => {
    if (stopping) return;
    log(`reclab serve: ${signal}, draining ${members.size} workers…`);
    stop(false);
  };
  process.on('SIGTERM', drainOn('SIGTERM'));
  process.on('SIGINT', drainOn('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    log('reclab serve: SIGHUP, reloading the model in every worker');
    coordinator.swapAll(options.model).catch((e: Error) => log(`reclab serve: reload failed, previous model keeps serving: ${e.message}`));
  });

  await retrainer?.start();
  for (let w = 0; w < size; w++) spawn();
}

/**
 * Runs one cluster worker: the server of {@link startServer} (passed in as `start`) with the
 * cluster's model swapper and rate-limit store, reporting to the primary.
 */
export async function runWorker(options: ServerOptions, start: (options: ServerOptions) => Promise<RunningServer>, log: (line: string) => void): Promise<void> {
  const me = `reclab serve: worker ${process.pid}`;
  const drainMs = options.cluster?.drainMs ?? 30_000;
  const rpc = new Rpc((message, done) => {
    if (!process.connected || !process.send) return done(new Error('the primary is gone'));
    process.send(message, undefined, undefined, done);
  });
  process.on('message', (message) => rpc.receive(message));

  let server: RunningServer | undefined;
  let stopping: { code: number } | undefined;
  const drain = (running: RunningServer, code: number) => {
    // Past the deadline (a hung request, or a close that needs the gone primary) exit anyway.
    setTimeout(() => {
      log(`${me} did not drain within ${drainMs} ms; exiting`);
      process.exit(1);
    }, drainMs).unref();
    running.stop().then(
      () => process.exit(code),
      (e: Error) => {
        log(`${me} shutdown failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  const stop = (why: string, code: number) => {
    if (stopping) return;
    stopping = { code };
    log(`${me}: ${why}, draining…`);
    if (server) drain(server, code);
    // Otherwise the start under way drains (or exits) as soon as it is done.
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  // Reloads are the primary's (one queue for the cluster); a SIGHUP sent to the whole process
  // group reaches the primary too. Without a handler it would kill this worker.
  process.on('SIGHUP', () => {});
  // The primary is gone (killed): node:cluster exits this worker at once (code 0) right after this
  // event, so it never runs orphaned — in-flight requests are cut, as they would be by the kill
  // of a single-process server. Say why, at least.
  cluster.worker?.on('disconnect', () => {
    if (!stopping) log(`${me}: lost the primary (its IPC channel closed); exiting`);
    rpc.close('the primary is gone');
  });

  const model = (JSON.parse(process.env[MODEL_ENV] ?? '{}') as { name?: string }).name;
  // Over SQLite every worker keeps users' histories in memory, told of the others' writes.
  const history = options.db.startsWith('sqlite:') ? new ClusterHistory(rpc) : undefined;
  try {
    await history?.sync();
    server = await start({
      ...options,
      model,
      modelSwapper: clusterModelSwapper(rpc),
      retrain: undefined,
      historyPeers: history,
      retrainControl: options.retrain ? remoteRetrainer(rpc) : undefined,
      rateLimitStore: clusterRateLimitStore(rpc, {
        onDegraded: (reason) => log(`${me}: no rate-limit count from the primary (${reason}); counting in this worker for a few seconds`),
      }),
    });
  } catch (e) {
    log(`${me} cannot start: ${(e as Error).message}`);
    process.exit(1);
  }
  if (stopping) return drain(server, stopping.code);
  serveModelSwaps(rpc, server.service.swapModel, log);
  const served = currentModel(server);
  rpc.notify('ready', { url: server.url, store: server.store.kind, model: served } satisfies ReadyNote);
  log(`${me} ready on ${server.url} (model ${served ? `${served.name} ${served.version}` : 'none'})`);
}

/** The model a running server answers with now. */
function currentModel(server: RunningServer): ModelLabel | null {
  const m = server.slot.current;
  return m ? { name: m.name, version: m.version } : null;
}
