/**
 * The thread policy, one for every parallel kernel: RECLAB_THREADS when set to a positive
 * integer, otherwise the machine's available cores. Work that does not pay for a second thread
 * (small inputs) decides that itself; this is only the ceiling.
 */
import { availableParallelism } from 'node:os';

/** Threads parallel kernels use by default. */
export function defaultThreads(): number {
  const env = Number(process.env.RECLAB_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : availableParallelism();
}
