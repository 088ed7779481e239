/**
 * A law sweep through the queue, seen from the submitting side: the stored points of a sweep,
 * in the order the one-process sweep writes them, ready for the same fit.
 */
import type { SweepFile } from '../laws/spec.ts';
import type { SweepPoint } from '../laws/sweep.ts';
import { sweepJobs, jobKind } from './kinds.ts';
import type { ResultStore } from './results.ts';

/** The stored points of `spec`'s grid (those present), in grid order (cheapest first). */
export async function storedSweepPoints(store: ResultStore, spec: SweepFile): Promise<SweepPoint[]> {
  const kind = jobKind('law-point');
  const out: SweepPoint[] = [];
  for (const job of sweepJobs(spec)) {
    const r = await store.get(kind.key(job.data));
    if (r) out.push(r.payload as SweepPoint);
  }
  return out;
}
