/**
 * The production loop in cluster mode (`reclab serve --workers n --retrain-every 1h`): one
 * {@link Retrainer} runs in the primary — one schedule for the cluster, one record file, one
 * retrain at a time — and an accepted candidate is swapped in through the primary's model
 * coordinator (cluster-models.ts), which has every worker load it and answers once all of them
 * serve it. The workers' admin routes (`POST /api/model/retrain`, `GET /api/model/retrains`,
 * `POST /api/model/rollback`) drive the primary's loop over the cluster IPC channel.
 *
 * Errors keep their HTTP status across the channel (the IPC layer carries only a message): a
 * handler answers `{ ok: false, status, message }` instead of throwing.
 */
import type { Rpc } from './cluster-rpc.ts';
import type { ModelCoordinator } from './cluster-models.ts';
import { Retrainer, type RetrainControl, type RetrainOptions, type RetrainRecord, type ServingModels } from './retrain.ts';

type Answer<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

/** Runs `job`, turning a thrown error into an answer that keeps its status code. */
async function answer<T>(job: () => Promise<T>): Promise<Answer<T>> {
  try {
    return { ok: true, value: await job() };
  } catch (e) {
    const err = e as Error & { statusCode?: number };
    return { ok: false, status: err.statusCode ?? 500, message: err.message };
  }
}

/** The value of an answer, or its error (with the status code it had in the primary). */
function unwrap<T>(a: Answer<T>): T {
  if (a.ok) return a.value;
  throw Object.assign(new Error(a.message), { statusCode: a.status });
}

/**
 * The primary's retrainer: models under `root`, the serving bundle being the coordinator's pinned
 * name, swaps through the coordinator (every worker, or none).
 */
export function primaryRetrainer(root: string, coordinator: ModelCoordinator, options: RetrainOptions, log: (line: string) => void): Retrainer {
  const models: ServingModels = { root, serving: () => coordinator.pinned };
  return new Retrainer(
    models,
    options,
    async (name) => {
      await coordinator.swapAll(name);
    },
    log,
  );
}

/** Answers one worker's retrain requests with the primary's `retrainer`. */
export function serveRetrains(rpc: Rpc, retrainer: RetrainControl): void {
  rpc.handle<{ trigger: RetrainRecord['trigger']; control?: 'shuffled' }>('retrain.run', ({ trigger, control }) => answer(() => retrainer.run(trigger, control)));
  rpc.handle('retrain.status', () => answer(() => retrainer.status()));
  rpc.handle('retrain.rollback', () => answer(() => retrainer.rollback()));
}

/**
 * A worker's {@link RetrainControl}: every call goes to the primary. No timeout: a retrain may
 * take minutes, the primary always answers, and if it dies the channel closes and the call rejects.
 */
export function remoteRetrainer(rpc: Rpc): RetrainControl {
  return {
    run: async (trigger, control) => unwrap(await rpc.request<Answer<RetrainRecord>>('retrain.run', { trigger, control })),
    status: async () => unwrap(await rpc.request<Answer<{ running: boolean; records: RetrainRecord[] }>>('retrain.status', {})),
    rollback: async () => unwrap(await rpc.request<Answer<{ from: string; to: string }>>('retrain.rollback', {})),
  };
}
