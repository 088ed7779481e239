/**
 * `retrain`: a serving model's retrain (src/serve/retrain-job.ts: fit on the bundle's history
 * plus the store's feedback, gate on a time holdout, write a new bundle when it passes) as a job,
 * so a retrain of 100 M events runs on a training machine rather than beside a replica.
 *
 * Its content key is the serving bundle, the store, the bundle to write, the gate's settings and
 * `upTo`, the store position the submitter saw: the same retrain submitted twice (or retried
 * after a worker died) is one job, and a later retrain with newer feedback is a new one. The new
 * bundle is swapped in by whoever serves (`PUT /api/model`, announced to every replica).
 */
import { runRetrain, type RetrainJob } from '../serve/retrain-job.ts';
import { RETRAIN_DEFAULTS } from '../serve/retrain.ts';
import type { JobKind } from './kinds.ts';
import { contentHash } from './results.ts';

/** What a `retrain` job names: the bundle, the store and the gate (defaults as `reclab serve --retrain`). */
export interface RetrainData extends Partial<Omit<RetrainJob, 'root' | 'serving' | 'db' | 'out'>> {
  /** Bundles directory every worker sees. */
  root: string;
  serving: string;
  db: string;
  out: string;
  /** The store's last feedback position when submitted (part of the job's identity). */
  upTo: number;
}

/** The full retrain settings of a job. */
export function retrainJob(d: RetrainData): RetrainJob {
  return {
    root: d.root,
    serving: d.serving,
    db: d.db,
    out: d.out,
    positiveTypes: d.positiveTypes,
    negativeTypes: d.negativeTypes ?? ['dislike'],
    readTypes: d.readTypes ?? ['read'],
    holdout: d.holdout ?? RETRAIN_DEFAULTS.holdout,
    tolerance: d.tolerance ?? RETRAIN_DEFAULTS.tolerance,
    minNew: d.minNew ?? RETRAIN_DEFAULTS.minNew,
    k: d.k ?? RETRAIN_DEFAULTS.k,
    maxUsers: d.maxUsers ?? RETRAIN_DEFAULTS.maxUsers,
    seed: d.seed ?? 0,
    control: d.control,
  };
}

export const retrainKind: JobKind<RetrainData> = {
  name: 'retrain',
  // The store URL is hashed with the rest: it may carry a password, which must not be a key.
  key: (d) => `retrain:${d.serving}:${d.out}:upTo=${d.upTo}:${contentHash({ ...retrainJob(d), upTo: d.upTo }).slice(0, 24)}`,
  check(data) {
    const d = data as RetrainData;
    for (const f of ['root', 'serving', 'db', 'out'] as const) if (typeof d?.[f] !== 'string' || d[f] === '') throw new Error(`retrain job: field "${f}" must be a non-empty string`);
    if (!Number.isInteger(d.upTo) || d.upTo < 0) throw new Error('retrain job: field "upTo" must be the store position (an integer ≥ 0)');
    if (d.out === d.serving) throw new Error('retrain job: field "out" must name a new bundle, not the serving one');
    return d;
  },
  async run(d, ctx) {
    await ctx.progress(5);
    const outcome = await runRetrain(retrainJob(d));
    ctx.log(`retrain ${d.serving} → ${d.out}: ${outcome.outcome} (${outcome.reason})`);
    return outcome;
  },
  identity(result) {
    const { outcome, bundle, figures, newEvents, storeSeq } = result as Awaited<ReturnType<typeof runRetrain>>;
    return { outcome, bundle: bundle ?? null, figures: figures ?? null, newEvents, storeSeq };
  },
};
