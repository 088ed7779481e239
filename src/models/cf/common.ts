/**
 * Small helpers shared by the collaborative-filtering models: config validation with defaults,
 * the binary user×item matrix in CSR form (duplicates collapsed), and shape checks.
 */
import type { Interactions } from '../../data/types.ts';

/** A value a config key can hold. */
export type ConfigValue = number | string | boolean;

/** Per-key extra checks: return an error reason, or undefined when the value is fine. */
export type ConfigChecks<T> = Partial<Record<keyof T, (value: never) => string | undefined>>;

/**
 * Fills `given` with `defaults` and validates it: unknown keys and values of the wrong type are
 * errors naming the model, the key and the reason (the registry contract: unknown keys fail,
 * missing keys take defaults).
 */
export function resolveConfig<T extends Record<string, ConfigValue>>(
  model: string,
  defaults: T,
  given: Record<string, unknown>,
  checks: ConfigChecks<T> = {},
): T {
  const out: Record<string, ConfigValue> = { ...defaults };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in defaults)) {
      throw new Error(`${model}: unknown config key "${key}"; known keys: ${Object.keys(defaults).join(', ')}`);
    }
    const want = typeof defaults[key];
    if (typeof value !== want || (want === 'number' && !Number.isFinite(value as number))) {
      throw new Error(`${model}: config key "${key}" must be a finite ${want}, got ${JSON.stringify(value)}`);
    }
    out[key] = value as ConfigValue;
  }
  for (const [key, check] of Object.entries(checks) as [string, ((v: never) => string | undefined) | undefined][]) {
    const reason = check?.(out[key] as never);
    if (reason) throw new Error(`${model}: config key "${key}" = ${JSON.stringify(out[key])}: ${reason}`);
  }
  return out as T;
}

/** Check helpers for {@link resolveConfig}. */
export const isPositive = (v: number): string | undefined => (v > 0 ? undefined : 'must be > 0');
export const isNonNegative = (v: number): string | undefined => (v >= 0 ? undefined : 'must be ≥ 0');
export const isPositiveInt = (v: number): string | undefined => (Number.isInteger(v) && v > 0 ? undefined : 'must be a positive integer');
export const isNonNegativeInt = (v: number): string | undefined => (Number.isInteger(v) && v >= 0 ? undefined : 'must be a non-negative integer');
/** A check that the value is one of `options`. */
export const oneOf =
  (...options: string[]) =>
  (v: string): string | undefined =>
    options.includes(v) ? undefined : `must be one of ${options.join(', ')}`;

/** The binary user×item matrix: row `u` holds user u's distinct items, ascending. */
export interface BinaryCsr {
  nRows: number;
  nCols: number;
  offsets: Int32Array;
  cols: Int32Array;
}

/** Collapses repeated (user, item) events to one and sorts each row by item id. */
export function binaryRows(data: Interactions): BinaryCsr {
  const { nUsers, nItems } = data;
  const mark = new Int32Array(nItems).fill(-1);
  const offsets = new Int32Array(nUsers + 1);
  const tmp = new Int32Array(data.items.length);
  let n = 0;
  for (let u = 0; u < nUsers; u++) {
    const start = n;
    for (let p = data.offsets[u]; p < data.offsets[u + 1]; p++) {
      const i = data.items[p];
      if (mark[i] !== u) {
        mark[i] = u;
        tmp[n++] = i;
      }
    }
    tmp.subarray(start, n).sort();
    offsets[u + 1] = n;
  }
  return { nRows: nUsers, nCols: nItems, offsets, cols: tmp.slice(0, n) };
}

/** Transposes a binary CSR matrix (item → users), rows ascending. */
export function transposeBinary(m: BinaryCsr): BinaryCsr {
  const offsets = new Int32Array(m.nCols + 1);
  for (let p = 0; p < m.cols.length; p++) offsets[m.cols[p] + 1]++;
  for (let c = 0; c < m.nCols; c++) offsets[c + 1] += offsets[c];
  const fill = offsets.slice(0, m.nCols);
  const cols = new Int32Array(m.cols.length);
  for (let r = 0; r < m.nRows; r++) {
    for (let p = m.offsets[r]; p < m.offsets[r + 1]; p++) cols[fill[m.cols[p]]++] = r;
  }
  return { nRows: m.nCols, nCols: m.nRows, offsets, cols };
}

/** Throws unless `out` can hold `users.length × nItems` scores and every user id fits `history`. */
export function checkScoreArgs(model: string, nItems: number, users: Int32Array, history: Interactions, out: Float32Array): void {
  if (nItems === 0) throw new Error(`${model}: scoreUsers called before fit or load`);
  if (history.nItems !== nItems) throw new Error(`${model}: history has ${history.nItems} items, the model was trained on ${nItems}`);
  if (out.length < users.length * nItems) throw new Error(`${model}: out has ${out.length} slots, need ${users.length} × ${nItems}`);
  for (const u of users) {
    if (u < 0 || u >= history.nUsers) throw new RangeError(`${model}: user ${u} outside history 0..${history.nUsers - 1}`);
  }
}

/** Wall-clock seconds since `t0` (from `performance.now()`). */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}
