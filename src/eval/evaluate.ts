/**
 * The evaluator: scores users in blocks, removes what the protocol excludes, finds the rank of
 * each held-out item (and the top-k list when a metric needs it), and keeps one value per user
 * and metric so significance tests can pair users across models.
 *
 * Ranking rules (stated with every result):
 * - Exclusion: under `full`, the items of the `exclude` views (train; train + valid at test time)
 *   are not candidates. A held-out item is never excluded, even if it also occurs in the history
 *   (repeat consumption): the model must still rank it.
 * - Ties (default `pessimistic`): a relevant item is ranked below every non-relevant candidate
 *   with an equal score, so constant scores give the worst rank, never the best. `optimistic`
 *   ranks it above them (what `(S > t).sum()` in NumPy evaluators does). Among relevant items,
 *   equal scores are ordered by item id.
 * - NaN scores count as −∞. Top-k lists (for list metrics) break ties by lower item id.
 *
 * Speed: one block of users (default 256) × nItems scores lives in a reused buffer in the kernel
 * arena; single-target rows (leave-one-out) get their rank from a vectorised count, and top-k uses
 * a bounded heap (partial selection). Memory stays O(block × nItems + nUsers × metrics).
 */
import type { Interactions } from '../data/types.ts';
import { isDotProduct, type Recommender } from '../models/recommender.ts';
import { topK } from '../models/topk.ts';
import { progress } from '../util/progress.ts';
import { defaultEngine } from '../kernels/engine.ts';
import { countAbove, rankCountDot } from '../kernels/score.ts';
import {
  catalogueStats,
  CATALOGUE_METRICS,
  dpd,
  exposureMetric,
  LIST_METRICS,
  listMetric,
  nanMean,
  parseMetric,
  rankMetric,
  RANK_METRICS,
  reo,
  type CatalogueStats,
  type ItemFeatures,
  type MetricSpec,
  type UserOutcome,
} from './metrics.ts';
import { parseProtocol, protocolName, sampleCandidates, type CandidateLists, type Protocol } from './protocol.ts';

/** Upper bound on the reused score block (users per block × nItems × 4 bytes). */
const MAX_BLOCK_BYTES = 256 * 1024 * 1024;

/** How a relevant item is ranked against non-relevant candidates with the same score. */
export type TieRule = 'pessimistic' | 'optimistic';

/** The data one evaluation reads. All views share nUsers and nItems. */
export interface EvalData {
  /** What the model sees as each user's history (passed to `scoreUsers`). */
  history: Interactions;
  /** Views whose items are removed from each user's candidates under `full`. */
  exclude: readonly Interactions[];
  /** Held-out events: each user's relevant items. Users with none are skipped. */
  targets: Interactions;
  /** Train view, for popularity statistics (list metrics, popularity sampling). */
  train: Interactions;
  /**
   * Every view of the user's history, for drawing sampled negatives (default: exclude ∪ targets);
   * `popN:all` also counts popularity on these views, so give the whole split (train, valid, test).
   */
  seen?: readonly Interactions[];
}

/** Options of {@link evaluate}. */
export interface EvalOptions {
  /** `full` (default), `uni100`, `pop100`, … or a Protocol object. */
  protocol?: Protocol | string;
  /** Metric names, e.g. `['hr@10', 'ndcg@10', 'coverage@10']`. */
  metrics: readonly string[];
  ties?: TieRule;
  /** Users scored per block (default 256). */
  blockSize?: number;
  /** Users to evaluate (default: all with at least one relevant item). */
  users?: Int32Array;
  /** Seed for sampled protocols (default 0); ignored when `candidates` is given. */
  seed?: number;
  /** Pre-drawn candidates for sampled protocols (so several models share them). */
  candidates?: CandidateLists;
  /** Item features for `ild@k`. */
  features?: ItemFeatures;
  /** Share of train interactions that defines the short head (default 0.2). */
  headShare?: number;
  /** Share of most active users for `dpd@k` (default 0.05). */
  activeShare?: number;
  /** Progress bar on stderr (default: when a TTY). */
  progress?: boolean;
  /** Title of the progress bar. */
  label?: string;
}

/** The protocol facts recorded with every result. */
export interface ProtocolRecord {
  /** `full`, `uni100`, `pop100`, `rerank`. */
  candidates: string;
  ties: TieRule;
  /** What was excluded from the candidates, in words. */
  excluded: string;
  seed?: number;
  nUsers: number;
  nItems: number;
}

/** What {@link evaluate} returns. */
export interface EvalResult {
  protocol: ProtocolRecord;
  /** Evaluated users, in order; per-user arrays are aligned with it. */
  users: Int32Array;
  /** Per-user values of each per-user metric (NaN = undefined for that user). */
  perUser: Record<string, Float64Array>;
  /** Summary value of every metric asked for. */
  metrics: Record<string, number>;
  /** Candidates used (sampled and rerank protocols), for the record. */
  candidates?: CandidateLists;
  /** Wall time in seconds (scoring + ranking + metrics). */
  seconds: number;
}

/** Distinct relevant items of user u. */
function relevantOf(targets: Interactions, u: number): Int32Array {
  const s = targets.items.subarray(targets.offsets[u], targets.offsets[u + 1]);
  if (s.length <= 1) return s;
  return Int32Array.from(new Set(s));
}

/**
 * 0-based ranks of `relevant` among the candidates `cand` (all items when null, minus those with
 * `stamp[i] === excl`) under `ties`, sorted ascending; also returns N. Relevant items that are
 * not candidates get rank Number.MAX_SAFE_INTEGER (never a hit). This is the general path; the evaluator uses
 * a vectorised count for the common one-target full-ranking case, and the tests check the two
 * agree.
 */
export function rankRelevant(
  row: Float32Array,
  relevant: Int32Array,
  cand: Int32Array | null,
  isExcluded: (i: number) => boolean,
  ties: TieRule,
): { ranks: Float64Array; nCandidates: number } {
  const m = relevant.length;
  const score = (i: number): number => {
    const s = row[i];
    return s === s ? s : -Infinity;
  };
  const relSet = new Set(relevant);
  // Which relevant items are candidates.
  const present = new Set<number>();
  if (cand === null) for (const t of relevant) present.add(t);
  else for (const i of cand) if (relSet.has(i)) present.add(i);
  const inList = [...present].sort((a, b) => score(b) - score(a) || a - b);
  const ts = inList.map(score);
  const diff = new Int32Array(inList.length + 1);
  let nNeg = 0;
  const visit = (j: number): void => {
    if (relSet.has(j)) return;
    nNeg++;
    const s = score(j);
    // First position q whose target is beaten by j: s_t < s (optimistic) or s_t <= s (pessimistic).
    let lo = 0;
    let hi = ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ties === 'pessimistic' ? ts[mid] <= s : ts[mid] < s) hi = mid;
      else lo = mid + 1;
    }
    diff[lo]++;
  };
  if (cand === null) {
    for (let j = 0; j < row.length; j++) if (!isExcluded(j)) visit(j);
  } else {
    const seen = new Set<number>();
    for (const j of cand) {
      if (seen.has(j)) continue; // duplicate candidates count once
      seen.add(j);
      visit(j);
    }
  }
  const ranks = new Float64Array(m);
  let above = 0;
  for (let q = 0; q < inList.length; q++) {
    above += diff[q];
    ranks[q] = q + above;
  }
  const nCandidates = nNeg + inList.length;
  // Relevant items missing from the candidates can never be found: past every cutoff
  // (auc counts every negative above them).
  for (let q = inList.length; q < m; q++) ranks[q] = Number.MAX_SAFE_INTEGER;
  return { ranks, nCandidates: nCandidates + (m - inList.length) };
}

/*
 * The per-row hot loops live in small top-level functions: V8 optimises those quickly, while a
 * loop inside the long async `evaluate` body can stay on slow baseline code.
 */

/**
 * Marks user u's items in `stamp` under a fresh `id`: relevant items get id + 2, excluded
 * (history) items id + 1 — so afterwards `stamp[i] === id + 1` exactly for the excluded items.
 * When `scores` is given, also sets the excluded items to −∞ in the row starting at `base`.
 * Returns the number of distinct excluded items. One pass over the history.
 */
function markRow(scores: Float32Array | null, base: number, exclude: readonly Interactions[], u: number, rel: Int32Array, stamp: Int32Array, id: number): number {
  for (let j = 0; j < rel.length; j++) stamp[rel[j]] = id + 2;
  let excluded = 0;
  for (let e = 0; e < exclude.length; e++) {
    const v = exclude[e];
    const items = v.items;
    const end = v.offsets[u + 1];
    for (let p = v.offsets[u]; p < end; p++) {
      const i = items[p];
      const st = stamp[i];
      if (st !== id + 1 && st !== id + 2) {
        stamp[i] = id + 1;
        excluded++;
        if (scores) scores[base + i] = -Infinity;
      }
    }
  }
  return excluded;
}

/**
 * User u's distinct excluded items that are not relevant, written to out[at..]; returns how many.
 * Same marking as {@link markRow} (so the same items are excluded on both paths).
 */
function collectExcluded(exclude: readonly Interactions[], u: number, rel: Int32Array, stamp: Int32Array, id: number, out: Int32Array, at: number): number {
  for (let j = 0; j < rel.length; j++) stamp[rel[j]] = id + 2;
  let n = 0;
  for (const v of exclude) {
    for (let p = v.offsets[u]; p < v.offsets[u + 1]; p++) {
      const i = v.items[p];
      const st = stamp[i];
      if (st !== id + 1 && st !== id + 2) {
        stamp[i] = id + 1;
        out[at + n++] = i;
      }
    }
  }
  return n;
}

function growInt32(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/** Writes each rank metric of `o` into its per-user array at `idx`. */
function recordRankMetrics(specs: readonly MetricSpec[], outs: readonly Float64Array[], idx: number, o: UserOutcome): void {
  for (let j = 0; j < specs.length; j++) outs[j][idx] = rankMetric(specs[j], o);
}

/** Users with at least one relevant item. */
export function usersWithTargets(targets: Interactions): Int32Array {
  const out: number[] = [];
  for (let u = 0; u < targets.nUsers; u++) if (targets.offsets[u + 1] > targets.offsets[u]) out.push(u);
  return Int32Array.from(out);
}

/**
 * Evaluates `model` on `data` under `options.protocol`. Returns per-user values (aligned with
 * `result.users`) and summaries: the mean over users for per-user metrics (NaN users left out),
 * `gauc` weighted by each user's number of relevant items, and catalogue metrics computed over
 * all users' top-k lists.
 */
export async function evaluate(model: Recommender, data: EvalData, options: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const { history, targets } = data;
  const nItems = targets.nItems;
  if (model.nItems !== nItems) throw new Error(`evaluate: model "${model.name}" scores ${model.nItems} items but the data has ${nItems}`);
  const ties = options.ties ?? 'pessimistic';
  const seed = options.seed ?? 0;
  const protocol = typeof options.protocol === 'string' || options.protocol === undefined ? parseProtocol(options.protocol ?? 'full', seed) : options.protocol;
  const specs = options.metrics.map(parseMetric);
  if (specs.length === 0) throw new Error('evaluate: no metrics asked for');
  const fileOnly = specs.find((s) => s.name === 'hallucination');
  if (fileOnly) throw new Error('evaluate: "hallucination" applies to recommendation files (reclab eval --recs), not to models');
  // Re-ranking: only users who were given a candidate list are evaluated.
  const users =
    options.users ??
    (protocol.kind === 'rerank' ? usersWithTargets(targets).filter((u) => protocol.candidates.offsets[u + 1] > protocol.candidates.offsets[u]) : usersWithTargets(targets));
  const nU = users.length;

  const rankSpecs = specs.filter((s) => (RANK_METRICS as readonly string[]).includes(s.name));
  const listSpecs = specs.filter((s) => (LIST_METRICS as readonly string[]).includes(s.name));
  const catSpecs = specs.filter((s) => (CATALOGUE_METRICS as readonly string[]).includes(s.name));
  const listCut = Math.max(0, ...listSpecs.map((s) => s.k!), ...catSpecs.filter((s) => s.name !== 'dpd').map((s) => s.k!));
  const needList = listCut > 0;
  const needStats = listSpecs.length > 0 || catSpecs.length > 0 || (protocol.kind === 'sampled' && protocol.sampler === 'popularity');
  const stats: CatalogueStats | null = needStats ? catalogueStats(data.train, options.headShare) : null;
  // dpd@k needs per-user ndcg@k even if not asked for.
  const extraNdcg = catSpecs.filter((s) => s.name === 'dpd').map((s) => ({ name: 'ndcg', k: s.k, label: `ndcg@${s.k}` }) as MetricSpec);
  const perUserSpecs = [...rankSpecs, ...extraNdcg.filter((e) => !rankSpecs.some((r) => r.label === e.label)), ...listSpecs];
  const perUser: Record<string, Float64Array> = {};
  for (const s of perUserSpecs) perUser[s.label] = new Float64Array(nU).fill(NaN);
  const nRelevant = new Float64Array(nU);
  const rankPerUser = perUserSpecs.filter((s) => (RANK_METRICS as readonly string[]).includes(s.name));
  const rankOuts = rankPerUser.map((s) => perUser[s.label]);
  const single: UserOutcome & { ranks: Float64Array } = { ranks: new Float64Array(1), nRelevant: 1, nCandidates: 0 };

  // Catalogue accumulators, one per distinct cutoff.
  const exposure = new Map<number, Float64Array>();
  const reoAcc = new Map<number, { hits: Float64Array; rel: Float64Array }>();
  for (const s of catSpecs) {
    if ((s.name === 'coverage' || s.name === 'gini' || s.name === 'entropy') && !exposure.has(s.k!)) exposure.set(s.k!, new Float64Array(nItems));
    if (s.name === 'reo' && !reoAcc.has(s.k!)) reoAcc.set(s.k!, { hits: new Float64Array(2), rel: new Float64Array(2) });
  }

  let candidates: CandidateLists | undefined;
  if (protocol.kind === 'sampled') {
    candidates = options.candidates ?? sampleCandidates(protocol, users, targets, data.seen ?? [...data.exclude, targets], data.train);
  } else if (protocol.kind === 'rerank') candidates = protocol.candidates;

  const engine = defaultEngine();
  // The score block is capped at 256 MB so huge catalogues shrink the block instead of the machine.
  const block = Math.max(1, Math.min(options.blockSize ?? 256, nU || 1, Math.floor(MAX_BLOCK_BYTES / (4 * nItems))));
  // In the engine's memory, so dot-product models write it in place and the count kernel reads it there.
  const scoreBlock = engine.f32(block * nItems);
  // Dot-product models under full ranking with no lists to build: rank counts straight from the
  // factors (no score block), see rankCountDot.
  const dot = protocol.kind === 'full' && !needList && isDotProduct(model) ? model : null;
  const panels = dot?.itemPanels() ?? null;
  const vectors = panels ? new Float32Array(block * panels.dims) : null;
  const exclOffsets = new Int32Array(block + 1);
  let exclItems: Int32Array = new Int32Array(1024);
  const stamp = new Int32Array(nItems);
  let stampId = 0;
  const rowTargets = new Int32Array(block);
  const counts = new Int32Array(block * 2);
  /** Re-marks user u's items under a fresh id (see markRow); used lazily by `isExcluded`. */
  const stampRow = (u: number, rel: Int32Array): number => {
    stampId += 3;
    markRow(null, 0, data.exclude, u, rel, stamp, stampId);
    return stampId;
  };
  const bar = progress(options.label ?? `eval ${model.name}`, nU, { enabled: options.progress, unit: 'users' });

  for (let b0 = 0; b0 < nU; b0 += block) {
    const b1 = Math.min(nU, b0 + block);
    const nb = b1 - b0;
    const blockUsers = users.subarray(b0, b1);
    if (dot && panels && vectors && blockUsers.every((u) => targets.offsets[u + 1] - targets.offsets[u] === 1)) {
      // Leave-one-out on the kernel core: the user's vector against every item, history removed.
      dot.userVectors(blockUsers, history, vectors);
      for (let r = 0; r < nb; r++) {
        const u = blockUsers[r];
        const rel = relevantOf(targets, u);
        rowTargets[r] = rel[0];
        stampId += 3;
        const at = exclOffsets[r];
        if (exclItems.length < at + nItems) exclItems = growInt32(exclItems, at + nItems);
        exclOffsets[r + 1] = at + collectExcluded(data.exclude, u, rel, stamp, stampId, exclItems, at);
      }
      rankCountDot(panels, vectors, nb, rowTargets, { offsets: exclOffsets, items: exclItems }, counts);
      // A NaN target score counts equal to nothing, not even itself: such rows take the score path.
      let allFinite = true;
      for (let r = 0; r < nb && allFinite; r++) if (counts[2 * r + 1] === 0) allFinite = false;
      if (allFinite) {
        for (let r = 0; r < nb; r++) {
          single.ranks[0] = counts[2 * r] + (ties === 'pessimistic' ? counts[2 * r + 1] - 1 : 0);
          single.nCandidates = nItems - (exclOffsets[r + 1] - exclOffsets[r]);
          nRelevant[b0 + r] = 1;
          recordRankMetrics(rankPerUser, rankOuts, b0 + r, single);
        }
        bar.tick(nb);
        continue;
      }
    }
    const scores = scoreBlock.a.subarray(0, nb * nItems);
    model.scoreUsers(blockUsers, history, scores);
    const rels: Int32Array[] = [];
    const nExcl = new Int32Array(nb);
    for (let r = 0; r < nb; r++) {
      const u = blockUsers[r];
      const rel = relevantOf(targets, u);
      rels.push(rel);
      rowTargets[r] = rel.length ? rel[0] : 0;
      if (protocol.kind !== 'full') continue;
      // Mask the excluded items (never the relevant ones) and count the distinct ones.
      stampId += 3;
      nExcl[r] = markRow(scores, r * nItems, data.exclude, u, rel, stamp, stampId);
    }
    const fast = protocol.kind === 'full';
    if (fast) countAbove(scores, nb, nItems, rowTargets, counts);

    for (let r = 0; r < nb; r++) {
      const idx = b0 + r;
      const u = blockUsers[r];
      const rel = rels[r];
      nRelevant[idx] = rel.length;
      if (rel.length === 0) continue;
      if (protocol.kind === 'full' && rel.length === 1 && !needList && scores[r * nItems + rel[0]] > -Infinity) {
        // Leave-one-out fast path: the vectorised count gives the rank (masked items are −∞,
        // never above or equal to a finite target); no list, no allocation.
        single.ranks[0] = counts[2 * r] + (ties === 'pessimistic' ? counts[2 * r + 1] - 1 : 0);
        single.nCandidates = nItems - nExcl[r];
        recordRankMetrics(rankPerUser, rankOuts, idx, single);
        continue;
      }
      const row = scores.subarray(r * nItems, (r + 1) * nItems);
      let id = -1;
      // Restamp lazily: later rows of the block have overwritten this row's marks.
      const isExcluded = (i: number): boolean => {
        if (id < 0) id = stampRow(u, rel);
        return stamp[i] === id + 1;
      };
      let outcome: UserOutcome;
      if (protocol.kind === 'full') {
        const ts = row[rel[0]];
        const nCandidates = nItems - nExcl[r];
        if (rel.length === 1 && ts > -Infinity) {
          const rank = counts[2 * r] + (ties === 'pessimistic' ? counts[2 * r + 1] - 1 : 0);
          outcome = { ranks: [rank], nRelevant: 1, nCandidates };
        } else {
          const rr = rankRelevant(row, rel, null, isExcluded, ties);
          outcome = { ranks: rr.ranks, nRelevant: rel.length, nCandidates: rr.nCandidates };
        }
        if (needList) outcome.list = topK(row, listCut, isExcluded).items;
      } else {
        const cand = candidates!.items.subarray(candidates!.offsets[u], candidates!.offsets[u + 1]);
        const rr = rankRelevant(row, rel, cand, () => false, ties);
        outcome = { ranks: rr.ranks, nRelevant: rel.length, nCandidates: rr.nCandidates };
        if (needList) {
          const cs = Float32Array.from(cand, (i) => row[i]);
          outcome.list = Int32Array.from(topK(cs, listCut).items, (j) => cand[j]);
        }
      }
      recordRankMetrics(rankPerUser, rankOuts, idx, outcome);
      if (outcome.list) {
        const relSet = new Set(rel);
        let primitive: Set<number> | undefined;
        if (listSpecs.some((s) => s.name === 'serendipity')) {
          // The popularity recommender's top-k for this user under the same exclusions.
          primitive = new Set();
          const kS = Math.max(...listSpecs.filter((s) => s.name === 'serendipity').map((s) => s.k!));
          const allowed = protocol.kind === 'full' ? null : new Set(candidates!.items.subarray(candidates!.offsets[u], candidates!.offsets[u + 1]));
          for (const i of stats!.byPopularity) {
            if (primitive.size >= kS) break;
            if (allowed ? allowed.has(i) : !isExcluded(i)) primitive.add(i);
          }
        }
        for (const s of listSpecs) perUser[s.label][idx] = listMetric(s, outcome.list, { stats: stats!, relevant: relSet, primitive, features: options.features });
        for (const [k, acc] of exposure) for (let j = 0; j < Math.min(k, outcome.list.length); j++) acc[outcome.list[j]]++;
        for (const [k, acc] of reoAcc) {
          const top = new Set(outcome.list.subarray(0, k));
          for (const t of rel) {
            const g = stats!.head[t] ? 0 : 1;
            acc.rel[g]++;
            if (top.has(t)) acc.hits[g]++;
          }
        }
      }
    }
    bar.tick(nb);
  }
  bar.stop();
  engine.freeBuf(scoreBlock);

  const metrics: Record<string, number> = {};
  for (const s of specs) {
    if (s.name === 'gauc') {
      let num = 0;
      let den = 0;
      for (let j = 0; j < nU; j++) {
        const v = perUser[s.label][j];
        if (Number.isFinite(v)) {
          num += v * nRelevant[j];
          den += nRelevant[j];
        }
      }
      metrics[s.label] = den ? num / den : NaN;
    } else if (perUser[s.label]) metrics[s.label] = nanMean(perUser[s.label]);
    else if (s.name === 'coverage' || s.name === 'gini' || s.name === 'entropy') metrics[s.label] = exposureMetric(s.name, exposure.get(s.k!)!);
    else if (s.name === 'reo') metrics[s.label] = reo(reoAcc.get(s.k!)!.hits, reoAcc.get(s.k!)!.rel);
    else if (s.name === 'dpd') {
      const activity = Float64Array.from(users, (u) => stats!.userCount[u]);
      metrics[s.label] = dpd(perUser[`ndcg@${s.k}`], activity, options.activeShare);
    }
  }
  // Keep only per-user arrays the caller asked for.
  for (const key of Object.keys(perUser)) if (!specs.some((s) => s.label === key)) delete perUser[key];
  return {
    protocol: {
      candidates: protocolName(protocol),
      ties,
      excluded:
        protocol.kind === 'full'
          ? `${data.exclude.length === 2 ? 'train + valid' : data.exclude.length === 1 ? 'train' : `${data.exclude.length} views`} items of each user`
          : protocol.kind === 'sampled'
            ? 'candidates: relevant items + negatives never interacted with'
            : 'only the given candidates are ranked; relevant items not among them count as misses',
      seed: protocol.kind === 'sampled' ? protocol.seed : undefined,
      nUsers: nU,
      nItems,
    },
    users,
    perUser,
    metrics,
    candidates,
    seconds: (performance.now() - t0) / 1000,
  };
}
