/**
 * One served model across the cluster. A `PUT /api/model` (or SIGHUP) in any worker goes to the
 * primary, which runs swaps one at a time: it names the bundle once (so CURRENT or "newest" cannot
 * resolve differently in two workers), tells every ready worker to load it, waits for all of them,
 * and only then answers the worker that asked. The name that succeeded is *pinned*: a worker
 * started later — a replacement after a crash — starts on it, not on the startup model, and a
 * worker that was starting while a swap went through catches up as soon as it is ready.
 *
 * Partial failure. A worker that fails to load keeps its previous model (ModelSlot's guarantee),
 * so a failure everywhere leaves the cluster as it was. If only some fail, the ones that swapped
 * are told to load the pinned (previous) model again, and the caller gets the first error: the
 * cluster converges back to one model. Two cases leave a worker's model unknown — it did not
 * answer in time, or could not go back — and those workers are restarted, so they come back on
 * the pinned model. Until they have drained and exited they may answer with the other model; that
 * window is the only time two models serve at once.
 */
import type { Rpc } from './cluster-rpc.ts';
import { RpcFailure } from './cluster-rpc.ts';
import { ModelSlot } from './slot.ts';
import { isBundleDir, type ServedModel } from './bundle.ts';

/** What a worker serves after a swap. */
export interface ModelLabel {
  name: string;
  version: string;
}

/** A ready worker, as the coordinator drives it. */
export interface SwapWorker {
  readonly pid: number;
  /** Makes the worker serve `name` (it loads the bundle); resolves with what it then serves. */
  swap(name: string | undefined, timeoutMs: number): Promise<ModelLabel>;
  /** Replaces the worker because its model is unknown or wrong; the replacement starts on the pinned model. */
  restart(reason: string): void;
}

/**
 * The bundle name every worker should load for `name` under `root`: the resolved directory name
 * (CURRENT and "newest" are decided here, once), or undefined when `root` is itself one bundle.
 * Throws the slot's error for an unknown name.
 */
export async function resolveModelName(root: string, name?: string): Promise<string | undefined> {
  const { label } = await new ModelSlot(root).resolve(name);
  return isBundleDir(root) ? undefined : label;
}

/** The primary's side: serialises swaps and keeps every worker on the pinned model. */
export class ModelCoordinator {
  /** Incremented by every successful swap; a worker started at an older generation must catch up. */
  generation = 0;
  private tail: Promise<void> = Promise.resolve();
  private closed?: string;

  /**
   * @param pinned the resolved startup name ({@link resolveModelName})
   * @param ready the workers that listen now (a starting worker is aligned when ready instead)
   */
  constructor(
    readonly root: string,
    public pinned: string | undefined,
    private readonly ready: () => SwapWorker[],
    private readonly log: (line: string) => void,
    private readonly timeoutMs = 60_000,
  ) {}

  /**
   * Swaps every ready worker to `name` (undefined: CURRENT or the newest, as at startup), after
   * the swaps queued before it. Resolves when all serve it; rejects with the first error, after
   * putting the cluster back on the previous model.
   */
  swapAll(name?: string): Promise<ModelLabel | undefined> {
    return this.enqueue(() => this.runSwap(name));
  }

  /** Brings `worker`, started at `generation`, onto the pinned model if a swap happened since. */
  align(worker: SwapWorker, generation: number): Promise<void> {
    return this.enqueue(async () => {
      if (generation === this.generation || !this.ready().includes(worker)) return;
      try {
        await worker.swap(this.pinned, this.timeoutMs);
      } catch (e) {
        worker.restart(`could not catch up with the served model: ${(e as Error).message}`);
      }
    });
  }

  /** Refuses further swaps (queued ones fail as they come up): the cluster is stopping. */
  close(reason: string): void {
    this.closed ??= reason;
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.closed !== undefined) throw new Error(this.closed);
      return job();
    });
    this.tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async runSwap(name?: string): Promise<ModelLabel | undefined> {
    const target = await resolveModelName(this.root, name);
    const workers = this.ready();
    const results = await Promise.allSettled(workers.map((w) => w.swap(target, this.timeoutMs)));
    const failed = workers.flatMap((worker, i) => {
      const r = results[i];
      return r.status === 'rejected' ? [{ worker, error: r.reason as Error }] : [];
    });
    const served = results.find((r) => r.status === 'fulfilled')?.value;
    if (failed.length === 0) {
      this.pinned = target;
      this.generation++;
      if (served) this.log(`reclab serve: all ${workers.length} workers now serve ${served.name} ${served.version}`);
      return served;
    }

    const swapped = workers.filter((_, i) => results[i].status === 'fulfilled');
    const back = await Promise.allSettled(swapped.map((w) => w.swap(this.pinned, this.timeoutMs)));
    back.forEach((r, i) => {
      if (r.status === 'rejected') swapped[i].restart(`could not return to the previous model: ${(r.reason as Error).message}`);
    });
    for (const { worker, error } of failed) {
      // It may still finish loading after we gave up on it: its model is unknown.
      if (error instanceof RpcFailure && error.kind === 'timeout') worker.restart(`did not finish the swap in time: ${error.message}`);
    }
    const first = failed[0];
    const where = failed.length === workers.length ? '' : ` (worker ${first.worker.pid}; ${swapped.length} that had swapped were put back)`;
    this.log(`reclab serve: swap to ${target ?? 'the bundle'} failed on ${failed.length} of ${workers.length} workers, previous model kept: ${first.error.message}`);
    throw new Error(`${first.error.message}${where}`);
  }
}

/** The worker's `modelSwapper`: every swap goes through the primary (which calls back into this worker too). */
export function clusterModelSwapper(rpc: Rpc): (name: string | undefined) => Promise<void> {
  return async (name) => {
    // No timeout here: the primary bounds each step of the swap and always answers, and if it
    // dies the channel closes and this rejects.
    await rpc.request('model.swapAll', { name });
  };
}

/** Lets the primary swap this worker's model (`swap` is the service's own swapModel). */
export function serveModelSwaps(rpc: Rpc, swap: (name?: string) => Promise<ServedModel>, log: (line: string) => void): void {
  rpc.handle<{ name?: string }>('model.swap', async ({ name }): Promise<ModelLabel> => {
    const served = await swap(name);
    log(`reclab serve: worker ${process.pid} now serves ${served.name} ${served.version}`);
    return { name: served.name, version: served.version };
  });
}
