/**
 * Splits of a prepared dataset into train / validation / test views. Every view has the
 * dataset's nUsers and nItems, keeps each user's events in time order, and the split records
 * the protocol that made it.
 *
 * - `loo` (leave-one-out, SASRec / BERT4Rec / S3-Rec): a user's last event → test, the
 *   second-to-last → valid, the rest → train. Users with fewer than 3 events keep everything
 *   in train and have no valid/test event — exactly what SASRec's author code (`data_partition`)
 *   does. Evaluation skips users with an empty target. With `valid: false` (the HSTU
 *   repository's `ignore_last_n = 1`): the last event → test and everything before it → train,
 *   no validation part (users with < 2 events: all in train); nothing can then be selected on
 *   validation, so runs report their final epoch.
 * - `temporal` (global time split): with N events sorted by time, the test cut is
 *   t_test = time at rank ⌊quantile·N⌋ (default quantile 0.9) or the given `date`; the valid cut
 *   t_valid likewise from `validQuantile` (default quantile − 0.1; with `date`, no valid part
 *   unless `validQuantile` is given). Events with time ≥ t_test → test, t_valid ≤ time < t_test
 *   → valid, the rest → train. Events with equal times always fall on the same side.
 * - `ratio` (per-user): a user with n events gets round(n·train) train events and round(n·valid)
 *   valid events (valid shrinks if the two exceed n), the rest test. `order: 'time'` takes them
 *   chronologically; `random` (default) picks them with a seeded shuffle (seed default 0) and
 *   then keeps time order inside each part.
 */
import type { Dataset, Interactions, Split, SplitProtocol } from './types.ts';
import { DataError } from './errors.ts';
import { DataRng } from './random.ts';

export type SplitOptions =
  | { kind: 'loo'; valid?: boolean }
  | { kind: 'temporal'; quantile?: number; validQuantile?: number; date?: string }
  | { kind: 'ratio'; train: number; valid: number; order?: 'random' | 'time'; seed?: number };

const TRAIN = 0;
const VALID = 1;
const TEST = 2;

/** Splits `d` with `o`. */
export function splitDataset(d: Dataset, o: SplitOptions): Split {
  const n = d.offsets[d.nUsers];
  const part = new Uint8Array(n);
  let protocol: SplitProtocol;
  switch (o.kind) {
    case 'loo': {
      const withValid = o.valid ?? true;
      for (let u = 0; u < d.nUsers; u++) {
        const s = d.offsets[u];
        const e = d.offsets[u + 1];
        if (e - s < (withValid ? 3 : 2)) continue;
        if (withValid) part[e - 2] = VALID;
        part[e - 1] = TEST;
      }
      protocol = withValid
        ? {
          kind: 'loo',
          description: 'leave-one-out: last event → test, second-to-last → valid, rest → train; users with < 3 events: all in train',
          options: {},
        }
        : {
          kind: 'loo',
          description: 'leave-last-out without validation: last event → test, the rest → train; users with < 2 events: all in train; final epoch reported',
          options: { valid: false },
        };
      break;
    }
    case 'temporal': {
      if (!d.hasTime) throw new DataError(d.name, 0, 'timestamp', 'this dataset has no timestamps (event order only): a temporal split needs times; use loo or ratio');
      const sorted = Float64Array.from(d.times).sort();
      const at = (q: number): number => {
        if (!(q > 0 && q < 1)) throw new RangeError(`splitDataset: quantiles must be in (0, 1), got ${q}`);
        return sorted[Math.min(n - 1, Math.floor(q * n))];
      };
      let tTest: number;
      let quantile: number | null = null;
      if (o.date !== undefined) {
        const ms = Date.parse(o.date);
        if (Number.isNaN(ms)) throw new RangeError(`splitDataset: cannot parse date ${JSON.stringify(o.date)} (use ISO 8601, e.g. 2003-01-01)`);
        tTest = ms / 1000;
      } else {
        quantile = o.quantile ?? 0.9;
        tTest = at(quantile);
      }
      const vq = o.validQuantile ?? (o.date === undefined ? Math.round(((quantile ?? 0) - 0.1) * 1e9) / 1e9 : undefined);
      let tValid = tTest;
      if (vq !== undefined && vq > 0) {
        if (quantile !== null && vq >= quantile) throw new RangeError(`splitDataset: validQuantile (${vq}) must be below quantile (${quantile})`);
        tValid = Math.min(at(vq), tTest);
      }
      const times = d.times;
      for (let p = 0; p < n; p++) part[p] = times[p] >= tTest ? TEST : times[p] >= tValid ? VALID : TRAIN;
      protocol = {
        kind: 'temporal',
        description: `global temporal: time ≥ ${iso(tTest)} → test, ${iso(tValid)} ≤ time < ${iso(tTest)} → valid, earlier → train`,
        options: { quantile, validQuantile: vq ?? null, date: o.date ?? null, testCut: tTest, validCut: tValid },
      };
      break;
    }
    case 'ratio': {
      const { train, valid } = o;
      if (!(train >= 0 && valid >= 0 && train + valid <= 1)) throw new RangeError(`splitDataset: need train ≥ 0, valid ≥ 0, train + valid ≤ 1, got ${train}, ${valid}`);
      const order = o.order ?? 'random';
      const seed = o.seed ?? 0;
      const rng = new DataRng(seed);
      let perm = new Int32Array(16);
      for (let u = 0; u < d.nUsers; u++) {
        const s = d.offsets[u];
        const len = d.offsets[u + 1] - s;
        const nTrain = Math.min(len, Math.round(len * train));
        const nValid = Math.min(len - nTrain, Math.round(len * valid));
        if (order === 'time') {
          for (let k = 0; k < len; k++) part[s + k] = k < nTrain ? TRAIN : k < nTrain + nValid ? VALID : TEST;
        } else {
          if (perm.length < len) perm = new Int32Array(len * 2);
          for (let k = 0; k < len; k++) perm[k] = k;
          for (let k = len - 1; k > 0; k--) {
            const j = rng.int(k + 1);
            const t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
          }
          for (let k = 0; k < len; k++) part[s + perm[k]] = k < nTrain ? TRAIN : k < nTrain + nValid ? VALID : TEST;
        }
      }
      protocol = {
        kind: 'ratio',
        description: `per-user ratio ${train}/${valid}/${Math.round((1 - train - valid) * 1e9) / 1e9} (${order === 'time' ? 'chronological' : `random, seed ${seed}`})`,
        seed: order === 'random' ? seed : undefined,
        options: { train, valid, order },
      };
      break;
    }
    default:
      throw new RangeError(`splitDataset: unknown split kind ${JSON.stringify((o as { kind: unknown }).kind)}`);
  }
  const [train, valid, test] = partition(d, part);
  return { dataset: d, train, valid, test, protocol };
}

/** Three views from a per-event part label (0 train, 1 valid, 2 test). */
function partition(d: Interactions, part: Uint8Array): [Interactions, Interactions, Interactions] {
  const { nUsers, nItems } = d;
  const offs = [new Int32Array(nUsers + 1), new Int32Array(nUsers + 1), new Int32Array(nUsers + 1)];
  for (let u = 0; u < nUsers; u++) {
    let a = 0;
    let b = 0;
    let c = 0;
    for (let p = d.offsets[u]; p < d.offsets[u + 1]; p++) {
      const k = part[p];
      if (k === TRAIN) a++;
      else if (k === VALID) b++;
      else c++;
    }
    offs[0][u + 1] = offs[0][u] + a;
    offs[1][u + 1] = offs[1][u] + b;
    offs[2][u + 1] = offs[2][u] + c;
  }
  const views = offs.map((offsets) => {
    const total = offsets[nUsers];
    return {
      nUsers,
      nItems,
      offsets,
      items: new Int32Array(total),
      times: new Float64Array(total),
      values: d.values ? new Float32Array(total) : undefined,
    } as Interactions;
  });
  const cursor = [0, 0, 0];
  for (let p = 0; p < part.length; p++) {
    const k = part[p];
    const v = views[k];
    const q = cursor[k]++;
    v.items[q] = d.items[p];
    v.times[q] = d.times[p];
    if (v.values) v.values[q] = d.values![p];
  }
  return [views[0], views[1], views[2]];
}

function iso(t: number): string {
  const date = new Date(t * 1000);
  return Number.isNaN(date.getTime()) ? String(t) : date.toISOString();
}
