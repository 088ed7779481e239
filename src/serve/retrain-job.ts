/**
 * One retrain, start to end, independent of HTTP and processes (retrain.ts runs it in a child
 * process so serving never stalls):
 *
 * 1. The data: the offline base bundle's training history, then the store's positive feedback
 *    (read and other types are not taste: they are left out, as in serving). Negative feedback
 *    (dislikes) is passed to the fit as `FitOptions.negatives`: a model that can learn from it
 *    (iALS: disliked pairs fitted as zeros) does, the others ignore it.
 * 2. What is new: store events past the position the serving bundle has learnt up to (its
 *    `retrain.storeSeq`; 0 for an offline bundle). Nothing new → nothing to do.
 * 3. The gate: the most recent `holdout` share of the new events, by arrival order in the store
 *    (a time-based holdout neither model has trained on), is held out. A candidate of the serving
 *    model's kind and configuration is fitted on everything else; each user with held-out events
 *    is scored by both models from their earlier events, and ndcg@k / recall@k of the held-out
 *    items (not in the input) are compared. The candidate passes when its ndcg@k is not worse
 *    than the serving model's (less `tolerance`).
 * 4. Passed: the model is refitted on everything (holdout included) and written as a new bundle
 *    beside the others. A `control: 'shuffled'` run fits the candidate on feedback whose items
 *    are shuffled across events — the gate's self-check: it must refuse it; it is never written.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { IdMap, type Dataset, type Interactions } from '../data/types.ts';
import { createModel } from '../models/registry.ts';
import { readCheckpointMeta } from '../models/checkpoint.ts';
import type { Recommender } from '../models/recommender.ts';
import { topK } from '../models/topk.ts';
import { Rng } from '../util/rng.ts';
import { loadSafetensors } from '../nn/safetensors.ts';
import { loadBundle, saveBundle, type BundleMeta } from './bundle.ts';
import { openStore, type FeedbackEvent } from './store.ts';

/** What to retrain, from where, and the gate's settings. */
export interface RetrainJob {
  /** Directory of the bundles (`--models`). */
  root: string;
  /** Bundle name (under root) serving now. */
  serving: string;
  /** Store URL. */
  db: string;
  /** Name of the bundle to write when the candidate passes. */
  out: string;
  /** Feedback types: positive (undefined: every type not negative or read), negative, read. */
  positiveTypes?: string[];
  negativeTypes: string[];
  readTypes: string[];
  /** Share of the new events held out, most recent first (default 0.1). */
  holdout: number;
  /** The candidate may be this much worse in ndcg@k and still pass (default 0). */
  tolerance: number;
  /** Fewest new events worth a retrain (default 1). */
  minNew: number;
  /** Cutoff of the gate's metrics (default 10). */
  k: number;
  /** Most held-out users scored (a seeded sample beyond it), bounding the gate's cost. */
  maxUsers: number;
  seed: number;
  /** `shuffled`: the gate's self-check (see the module comment). */
  control?: 'shuffled';
}

/** The gate's figures. */
export interface GateFigures {
  metric: string;
  candidate: number;
  serving: number;
  candidateRecall: number;
  servingRecall: number;
  /** Users scored, held-out events, events the candidate was fitted on for the gate. */
  users: number;
  holdoutEvents: number;
  trainEvents: number;
}

/** What a retrain did. */
export interface RetrainOutcome {
  /** `control`: a shuffled-feedback self-check the gate failed to refuse (never swapped). */
  outcome: 'accepted' | 'refused' | 'skipped' | 'control';
  reason: string;
  /** The bundle written (accepted only). */
  bundle?: string;
  figures?: GateFigures;
  newEvents: number;
  /** Store position learnt up to. */
  storeSeq: number;
  seconds: number;
}

/** Positive events read from the store, with their log positions. */
type StoreEvent = Required<Pick<FeedbackEvent, 'seq'>> & FeedbackEvent;

/** A training event in raw ids. */
export interface RawEvent {
  user: string;
  item: string;
  time: number;
}

/** Reads the offline base of a bundle: its name and training events (raw ids, in CSR order). */
async function baseEvents(root: string, serving: string): Promise<{ base: string; events: RawEvent[]; categories: Map<string, string[]> }> {
  const meta = JSON.parse(await readFile(join(root, serving, 'serve.json'), 'utf8')) as BundleMeta;
  const base = meta.retrain?.base ?? serving;
  const baseMeta = base === serving ? meta : (JSON.parse(await readFile(join(root, base, 'serve.json'), 'utf8')) as BundleMeta);
  const { tensors } = await loadSafetensors(join(root, base, 'history.safetensors'));
  const offsets = tensors.offsets.data as Int32Array;
  const items = tensors.items.data as Int32Array;
  const times = tensors.times.data as Float64Array;
  const events: RawEvent[] = [];
  for (let u = 0; u < baseMeta.users.length; u++) {
    for (let p = offsets[u]; p < offsets[u + 1]; p++) events.push({ user: baseMeta.users[u], item: baseMeta.items[items[p]], time: times[p] });
  }
  const categories = new Map<string, string[]>();
  baseMeta.items.forEach((id, i) => categories.set(id, baseMeta.itemCategories?.[i] ?? []));
  return { base, events, categories };
}

/** Every positive and every negative event of the store, each in log order. */
async function storeEvents(job: RetrainJob): Promise<{ positive: StoreEvent[]; negative: StoreEvent[] }> {
  const store = await openStore(job.db);
  const out: StoreEvent[] = [];
  const negative: StoreEvent[] = [];
  const negativeTypes = new Set(job.negativeTypes);
  const others = new Set([...job.negativeTypes, ...job.readTypes]);
  const positive = (type: string) => !others.has(type) && (!job.positiveTypes || job.positiveTypes.includes(type));
  try {
    let cursor = '';
    do {
      const page = await store.listFeedback({}, cursor, 10_000);
      for (const e of page.rows) {
        if (positive(e.type)) out.push(e as StoreEvent);
        else if (negativeTypes.has(e.type)) negative.push(e as StoreEvent);
      }
      cursor = page.cursor;
    } while (cursor !== '');
  } finally {
    await store.close();
  }
  return { positive: out, negative };
}

/**
 * Negative events as an Interactions over the training id maps (`FitOptions.negatives`): events
 * on a user or item the maps do not hold are dropped (a model cannot learn a vector from a
 * dislike alone). Undefined when none is left.
 */
export function negativeInteractions(userIds: IdMap, itemIds: IdMap, events: readonly RawEvent[]): Interactions | undefined {
  const kept = events.filter((e) => userIds.get(e.user) !== undefined && itemIds.get(e.item) !== undefined);
  if (kept.length === 0) return undefined;
  return dataset('negatives', userIds, itemIds, kept);
}

/** A Dataset over fixed id maps from raw events (each user's events in the order given). */
function dataset(name: string, userIds: IdMap, itemIds: IdMap, events: readonly RawEvent[]): Dataset {
  const nUsers = userIds.size;
  const offsets = new Int32Array(nUsers + 1);
  for (const e of events) offsets[userIds.get(e.user)! + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, nUsers);
  const items = new Int32Array(events.length);
  const times = new Float64Array(events.length);
  for (const e of events) {
    const p = fill[userIds.get(e.user)!]++;
    items[p] = itemIds.get(e.item)!;
    times[p] = e.time;
  }
  const fingerprint = createHash('sha256').update(name).update(String(events.length)).digest('hex').slice(0, 16);
  return {
    name,
    userIds,
    itemIds,
    hasTime: true,
    fingerprint,
    provenance: { source: 'reclab serve store', format: 'store', preparation: {} },
    nUsers,
    nItems: itemIds.size,
    offsets,
    items,
    times,
  };
}

/** A model with the id maps it scores in. */
interface Scorer {
  model: Recommender;
  users: IdMap;
  items: IdMap;
  nUsers: number;
}

/**
 * ndcg@k and recall@k of `targets` when `scorer` ranks all items for a user with history `input`
 * (raw ids; items the scorer does not know are dropped from the input and miss as targets).
 * The user's row holds the input (an unknown user gets the row past the trained users), as in
 * serving (engine.ts userView).
 */
function scoreUser(s: Scorer, user: string, input: readonly string[], targets: ReadonlySet<string>, k: number, scores: Float32Array): { ndcg: number; recall: number } {
  const sequence = Int32Array.from(input.map((i) => s.items.get(i)).filter((i): i is number => i !== undefined));
  const known = s.users.get(user);
  const row = known ?? s.nUsers;
  const nUsers = known === undefined ? s.nUsers + 1 : s.nUsers;
  const offsets = new Int32Array(nUsers + 1);
  offsets.fill(sequence.length, row + 1);
  const view: Interactions = { nUsers, nItems: s.model.nItems, offsets, items: sequence, times: new Float64Array(sequence.length) };
  s.model.scoreUsers(Int32Array.of(row), view, scores);
  const seen = new Set(sequence);
  const top = topK(scores, k, (i) => seen.has(i));
  let dcg = 0;
  let hits = 0;
  for (let r = 0; r < top.items.length; r++) {
    if (targets.has(s.items.toRaw(top.items[r]))) {
      dcg += 1 / Math.log2(r + 2);
      hits++;
    }
  }
  let ideal = 0;
  for (let r = 0; r < Math.min(k, targets.size); r++) ideal += 1 / Math.log2(r + 2);
  return { ndcg: dcg / ideal, recall: hits / Math.min(k, targets.size) };
}

/** Runs one retrain (see the module comment). */
export async function runRetrain(job: RetrainJob): Promise<RetrainOutcome> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const servingMeta = JSON.parse(await readFile(join(job.root, job.serving, 'serve.json'), 'utf8')) as BundleMeta;
  const learnt = servingMeta.retrain?.storeSeq ?? 0;
  const { base, events: past, categories } = await baseEvents(job.root, job.serving);
  const { positive: fromStore, negative: dislikes } = await storeEvents(job);
  const storeSeq = fromStore.length > 0 ? fromStore[fromStore.length - 1].seq : learnt;
  const fresh = fromStore.filter((e) => e.seq > learnt);
  if (fresh.length < Math.max(1, job.minNew)) {
    return { outcome: 'skipped', reason: `${fresh.length} new positive events since the serving model (fewer than ${Math.max(1, job.minNew)})`, newEvents: fresh.length, storeSeq, seconds: seconds() };
  }
  // The holdout: the newest share of the new events by arrival.
  const nHold = Math.max(1, Math.min(fresh.length, Math.ceil(fresh.length * job.holdout)));
  const firstHeld = fresh[fresh.length - nHold].seq;
  // Store events in each user's time order (ties by arrival), after the base history.
  const byTime = [...fromStore].sort((a, b) => a.time - b.time || a.seq - b.seq);
  const all: RawEvent[] = [...past, ...byTime];
  const userIds = IdMap.fromRaw([...new Set(all.map((e) => e.user))]);
  const itemIds = IdMap.fromRaw([...new Set(all.map((e) => e.item))]);
  const train: RawEvent[] = [...past, ...byTime.filter((e) => e.seq < firstHeld)];
  const held = byTime.filter((e) => e.seq >= firstHeld);

  // The candidate for the gate: the serving model's kind and configuration on the train part.
  const checkpoint = await readCheckpointMeta(join(job.root, job.serving));
  const gateTrain = job.control === 'shuffled' ? shuffleItems(train, job.seed) : train;
  const candidate = createModel(checkpoint.name, checkpoint.config as Record<string, unknown>);
  const gateNegatives = negativeInteractions(userIds, itemIds, dislikes.filter((e) => e.seq < firstHeld));
  await candidate.fit(dataset(`retrain-gate:${base}`, userIds, itemIds, gateTrain), { seed: job.seed, negatives: gateNegatives });
  const serving = await loadBundle(join(job.root, job.serving), job.serving);

  // Score every held-out user (a seeded sample past maxUsers) from their train-part events.
  const inputs = new Map<string, string[]>();
  for (const e of train) {
    let list = inputs.get(e.user);
    if (!list) inputs.set(e.user, (list = []));
    list.push(e.item);
  }
  const targets = new Map<string, Set<string>>();
  for (const e of held) {
    if (inputs.get(e.user)?.includes(e.item)) continue;
    let set = targets.get(e.user);
    if (!set) targets.set(e.user, (set = new Set()));
    set.add(e.item);
  }
  let users = [...targets.keys()];
  if (users.length > job.maxUsers) {
    const rng = new Rng(job.seed);
    for (let i = users.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [users[i], users[j]] = [users[j], users[i]];
    }
    users = users.slice(0, job.maxUsers);
  }
  const cand: Scorer = { model: candidate, users: userIds, items: itemIds, nUsers: userIds.size };
  const serv: Scorer = { model: serving.model, users: serving.users, items: serving.items, nUsers: serving.history.nUsers };
  const candScores = new Float32Array(candidate.nItems);
  const servScores = new Float32Array(serving.model.nItems);
  let cN = 0, cR = 0, sN = 0, sR = 0;
  for (const u of users) {
    const input = inputs.get(u) ?? [];
    const t = targets.get(u)!;
    const c = scoreUser(cand, u, input, t, job.k, candScores);
    const s = scoreUser(serv, u, input, t, job.k, servScores);
    cN += c.ndcg;
    cR += c.recall;
    sN += s.ndcg;
    sR += s.recall;
  }
  const n = Math.max(1, users.length);
  const figures: GateFigures = {
    metric: `ndcg@${job.k}`,
    candidate: cN / n,
    serving: sN / n,
    candidateRecall: cR / n,
    servingRecall: sR / n,
    users: users.length,
    holdoutEvents: held.length,
    trainEvents: gateTrain.length,
  };
  if (users.length === 0) {
    return { outcome: 'refused', reason: 'no held-out event on an item the user had not seen: nothing to compare on', figures, newEvents: fresh.length, storeSeq, seconds: seconds() };
  }
  const passed = figures.candidate >= figures.serving - job.tolerance;
  const verdict = `candidate ${figures.metric} ${figures.candidate.toFixed(4)} vs serving ${figures.serving.toFixed(4)} on ${users.length} users (${held.length} held-out events)`;
  if (job.control === 'shuffled') {
    // The self-check's candidate is never swapped in; the gate is expected to refuse it.
    if (!passed) return { outcome: 'refused', reason: `control (shuffled feedback): ${verdict}: worse, refused`, figures, newEvents: fresh.length, storeSeq, seconds: seconds() };
    return { outcome: 'control', reason: `control (shuffled feedback): ${verdict}: the gate would have passed it — the holdout cannot tell signal from noise; not swapped`, figures, newEvents: fresh.length, storeSeq, seconds: seconds() };
  }
  if (!passed) return { outcome: 'refused', reason: `${verdict}: worse, the serving model stays`, figures, newEvents: fresh.length, storeSeq, seconds: seconds() };

  // Passed: refit on everything and write the bundle (serve.json last: complete or absent).
  const data = dataset(`retrain:${base}`, userIds, itemIds, all);
  const model = createModel(checkpoint.name, checkpoint.config as Record<string, unknown>);
  await model.fit(data, { seed: job.seed, negatives: negativeInteractions(userIds, itemIds, dislikes) });
  const dir = join(job.root, job.out);
  await model.save(dir);
  await saveBundle(dir, {
    name: data.name,
    fingerprint: data.fingerprint,
    userIds,
    itemIds,
    history: data,
    itemCategories: itemIds.toArray().map((id) => categories.get(id) ?? []),
    retrain: { base, storeSeq },
  });
  return { outcome: 'accepted', reason: `${verdict}: not worse`, bundle: job.out, figures, newEvents: fresh.length, storeSeq, seconds: seconds() };
}

/** The events with their items shuffled across events (users and times kept): feedback without signal. */
function shuffleItems(events: readonly RawEvent[], seed: number): RawEvent[] {
  const items = events.map((e) => e.item);
  const rng = new Rng(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return events.map((e, k) => ({ ...e, item: items[k] }));
}
