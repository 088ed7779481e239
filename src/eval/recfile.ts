/**
 * Evaluating recommendation lists produced elsewhere (another library, an LLM, a production
 * system): read a file of user → ranked items in raw ids, map it onto a dataset, and compute the
 * same metrics as for models.
 *
 * File formats (detected by extension):
 * - CSV / TSV with a header containing `user` and `item`, optionally `rank` (1-based) or `score`
 *   (higher first); without either, rows are taken in file order per user.
 * - JSONL: one object per line, `{"user": "<raw id>", "items": ["<raw id>", …]}` best first.
 *
 * Rules (stated in the result's protocol): items not in the catalogue are *hallucinations* — they
 * keep their slot in the list (so they push real items down) but are never relevant, and
 * `hallucination` reports their share. By default the user's history items (train + valid) are
 * dropped from the list first, as under full ranking; repeated items keep their first position.
 * Test users without a list get an empty list (all accuracy metrics 0). A user id that is not in
 * the dataset is an error with file, line and field.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Dataset, Interactions } from '../data/types.ts';
import { usersWithTargets, type EvalResult } from './evaluate.ts';
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
  type ItemFeatures,
  type UserOutcome,
} from './metrics.ts';

/** Recommendation lists in dense ids: `lists.get(u)` is user u's list, −1 marking unknown (hallucinated) items. */
export interface RecLists {
  lists: Map<number, Int32Array>;
  /** Where the lists came from (file path). */
  source: string;
}

/** An input problem, with file, line and field. */
export class RecFileError extends Error {
  constructor(file: string, line: number, field: string, reason: string) {
    super(`${file}:${line}: field "${field}": ${reason}`);
    this.name = 'RecFileError';
  }
}

/** Reads a CSV/TSV/JSONL recommendation file against `dataset`'s id maps. */
export function readRecommendations(path: string, dataset: Pick<Dataset, 'userIds' | 'itemIds'>): RecLists {
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  const raw = new Map<number, { item: number; order: number }[]>();
  const add = (user: string, item: string, order: number, line: number): void => {
    const u = dataset.userIds.get(user);
    if (u === undefined) throw new RecFileError(path, line, 'user', `unknown user ${JSON.stringify(user)} (not in the dataset)`);
    let l = raw.get(u);
    if (!l) raw.set(u, (l = []));
    l.push({ item: dataset.itemIds.get(item) ?? -1, order });
  };
  if (ext === '.jsonl' || ext === '.ndjson') {
    text.split('\n').forEach((lineText, i) => {
      if (!lineText.trim()) return;
      let obj: unknown;
      try {
        obj = JSON.parse(lineText);
      } catch (e) {
        throw new RecFileError(path, i + 1, '(line)', `invalid JSON: ${(e as Error).message}`);
      }
      const o = obj as { user?: unknown; items?: unknown };
      if (typeof o.user !== 'string' && typeof o.user !== 'number') throw new RecFileError(path, i + 1, 'user', 'missing or not a string');
      if (!Array.isArray(o.items)) throw new RecFileError(path, i + 1, 'items', 'missing or not an array');
      o.items.forEach((it, j) => {
        if (typeof it !== 'string' && typeof it !== 'number') throw new RecFileError(path, i + 1, `items[${j}]`, 'not a string or number');
        add(String(o.user), String(it), j, i + 1);
      });
    });
  } else if (ext === '.csv' || ext === '.tsv') {
    let rows: string[][];
    try {
      rows = parseCsv(text, { delimiter: ext === '.tsv' ? '\t' : ',', skip_empty_lines: true, relax_column_count: false }) as string[][];
    } catch (e) {
      const err = e as { lines?: number; message: string };
      throw new RecFileError(path, err.lines ?? 0, '(row)', err.message);
    }
    if (rows.length === 0) throw new RecFileError(path, 1, '(header)', 'empty file');
    const header = rows[0].map((h) => h.trim().toLowerCase());
    const col = (name: string): number => header.indexOf(name);
    const [cu, ci, cr, cs] = [col('user'), col('item'), col('rank'), col('score')];
    if (cu < 0) throw new RecFileError(path, 1, 'user', `header has no "user" column (found: ${header.join(', ')})`);
    if (ci < 0) throw new RecFileError(path, 1, 'item', `header has no "item" column (found: ${header.join(', ')})`);
    for (let r = 1; r < rows.length; r++) {
      let order = r;
      if (cr >= 0 || cs >= 0) {
        const field = cr >= 0 ? 'rank' : 'score';
        const v = Number(rows[r][cr >= 0 ? cr : cs]);
        if (!Number.isFinite(v)) throw new RecFileError(path, r + 1, field, `expected a number, got ${JSON.stringify(rows[r][cr >= 0 ? cr : cs])}`);
        order = cr >= 0 ? v : -v;
      }
      add(rows[r][cu], rows[r][ci], order, r + 1);
    }
  } else {
    throw new RecFileError(path, 0, '(file)', `unknown extension "${ext}": use .csv, .tsv or .jsonl`);
  }
  const lists = new Map<number, Int32Array>();
  for (const [u, l] of raw) lists.set(u, Int32Array.from(l.sort((a, b) => a.order - b.order), (x) => x.item));
  return { lists, source: path };
}

/** What {@link evaluateLists} reads from the split. */
export interface ListEvalData {
  /** History views whose items are dropped from the lists (unless keepHistory). */
  exclude: readonly Interactions[];
  targets: Interactions;
  train: Interactions;
}

/**
 * Metrics of given lists. Rank metrics read the position of each relevant item in the cleaned
 * list (missing items rank past any cutoff); `auc`/`gauc` are not defined without scores for
 * every candidate and are rejected. `hallucination` = per-user share of list entries that are not
 * catalogue items (before history filtering), averaged over users with a non-empty list.
 */
export function evaluateLists(recs: RecLists, data: ListEvalData, options: { metrics: readonly string[]; keepHistory?: boolean; features?: ItemFeatures; headShare?: number; activeShare?: number }): EvalResult {
  const t0 = performance.now();
  const specs = options.metrics.map(parseMetric);
  const bad = specs.find((s) => s.name === 'auc' || s.name === 'gauc');
  if (bad) throw new Error(`${bad.label} needs a score for every candidate; recommendation lists do not have them`);
  const { targets } = data;
  const nItems = targets.nItems;
  const users = usersWithTargets(targets);
  const nU = users.length;
  const stats = catalogueStats(data.train, options.headShare);
  const perUser: Record<string, Float64Array> = {};
  const needNdcg = specs.filter((s) => s.name === 'dpd').map((s) => `ndcg@${s.k}`);
  const perUserSpecs = [...specs.filter((s) => !(CATALOGUE_METRICS as readonly string[]).includes(s.name)), ...needNdcg.filter((l) => !specs.some((s) => s.label === l)).map(parseMetric)];
  for (const s of perUserSpecs) perUser[s.label] = new Float64Array(nU).fill(NaN);
  const exposure = new Map<number, Float64Array>();
  const reoAcc = new Map<number, { hits: Float64Array; rel: Float64Array }>();
  for (const s of specs) {
    if ((s.name === 'coverage' || s.name === 'gini' || s.name === 'entropy') && !exposure.has(s.k!)) exposure.set(s.k!, new Float64Array(nItems));
    if (s.name === 'reo' && !reoAcc.has(s.k!)) reoAcc.set(s.k!, { hits: new Float64Array(2), rel: new Float64Array(2) });
  }
  users.forEach((u, idx) => {
    const given = recs.lists.get(u) ?? new Int32Array(0);
    const hist = new Set<number>();
    if (!options.keepHistory) for (const v of data.exclude) for (let p = v.offsets[u]; p < v.offsets[u + 1]; p++) hist.add(v.items[p]);
    const rel = new Set(targets.items.subarray(targets.offsets[u], targets.offsets[u + 1]));
    for (const t of rel) hist.delete(t); // a held-out item is never filtered away
    const seen = new Set<number>();
    const cleaned: number[] = [];
    let unknown = 0;
    for (const i of given) {
      if (i < 0) {
        unknown++;
        cleaned.push(-1);
        continue;
      }
      if (hist.has(i) || seen.has(i)) continue;
      seen.add(i);
      cleaned.push(i);
    }
    const ranks: number[] = [];
    cleaned.forEach((i, pos) => {
      if (i >= 0 && rel.has(i)) ranks.push(pos);
    });
    // Relevant items absent from the list rank after it (beyond every cutoff that the list reaches).
    for (let j = ranks.length; j < rel.size; j++) ranks.push(Number.MAX_SAFE_INTEGER);
    const known = Int32Array.from(cleaned.filter((i) => i >= 0));
    const outcome: UserOutcome = { ranks, nRelevant: rel.size, nCandidates: NaN, list: known, unknown, listLength: given.length };
    for (const s of perUserSpecs) {
      if (s.name === 'hallucination') perUser[s.label][idx] = given.length ? unknown / given.length : NaN;
      else if ((RANK_METRICS as readonly string[]).includes(s.name)) perUser[s.label][idx] = rankMetric(s, outcome);
      else if ((LIST_METRICS as readonly string[]).includes(s.name)) {
        // List metrics read the first k *slots*, hallucinated ones included as non-items.
        const slots = Int32Array.from(cleaned.slice(0, s.k).filter((i) => i >= 0));
        perUser[s.label][idx] = listMetric({ ...s, k: s.k }, slots, { stats, relevant: rel, features: options.features, primitive: popularTopK(stats.byPopularity, hist, s.k!) });
      }
    }
    for (const [k, acc] of exposure) for (const i of cleaned.slice(0, k)) if (i >= 0) acc[i]++;
    for (const [k, acc] of reoAcc) {
      const top = new Set(cleaned.slice(0, k));
      for (const t of rel) {
        const g = stats.head[t] ? 0 : 1;
        acc.rel[g]++;
        if (top.has(t)) acc.hits[g]++;
      }
    }
  });
  const metrics: Record<string, number> = {};
  for (const s of specs) {
    if (perUser[s.label]) metrics[s.label] = nanMean(perUser[s.label]);
    else if (s.name === 'coverage' || s.name === 'gini' || s.name === 'entropy') metrics[s.label] = exposureMetric(s.name, exposure.get(s.k!)!);
    else if (s.name === 'reo') metrics[s.label] = reo(reoAcc.get(s.k!)!.hits, reoAcc.get(s.k!)!.rel);
    else if (s.name === 'dpd') metrics[s.label] = dpd(perUser[`ndcg@${s.k}`], Float64Array.from(users, (u) => stats.userCount[u]), options.activeShare);
  }
  for (const key of Object.keys(perUser)) if (!specs.some((s) => s.label === key)) delete perUser[key];
  return {
    protocol: {
      candidates: `lists from ${recs.source}`,
      ties: 'pessimistic',
      excluded: options.keepHistory ? 'nothing (lists as given)' : `history items (${data.exclude.length === 2 ? 'train + valid' : 'train'}) dropped from the lists`,
      nUsers: nU,
      nItems,
    },
    users,
    perUser,
    metrics,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The k most popular items not in `exclude` (the primitive recommender for serendipity). */
function popularTopK(byPopularity: Int32Array, exclude: Set<number>, k: number): Set<number> {
  const out = new Set<number>();
  for (const i of byPopularity) {
    if (out.size >= k) break;
    if (!exclude.has(i)) out.add(i);
  }
  return out;
}
