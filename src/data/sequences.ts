/**
 * Sequence views for sequential models: each user's last `maxLen` events, as CSR
 * ({@link truncateSequences}) or as a dense left-padded matrix ({@link padSequences}).
 */
import type { Interactions } from './types.ts';

/** The last `maxLen` events of every user (most recent kept), as a new CSR view. */
export function truncateSequences(data: Interactions, maxLen: number): Interactions {
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new RangeError(`truncateSequences: maxLen must be a positive integer, got ${maxLen}`);
  const { nUsers, offsets } = data;
  const newOffsets = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) newOffsets[u + 1] = newOffsets[u] + Math.min(maxLen, offsets[u + 1] - offsets[u]);
  const total = newOffsets[nUsers];
  if (total === offsets[nUsers]) return data;
  const items = new Int32Array(total);
  const times = new Float64Array(total);
  const values = data.values ? new Float32Array(total) : undefined;
  for (let u = 0; u < nUsers; u++) {
    const len = newOffsets[u + 1] - newOffsets[u];
    const from = offsets[u + 1] - len;
    items.set(data.items.subarray(from, offsets[u + 1]), newOffsets[u]);
    times.set(data.times.subarray(from, offsets[u + 1]), newOffsets[u]);
    if (values) values.set(data.values!.subarray(from, offsets[u + 1]), newOffsets[u]);
  }
  return { nUsers, nItems: data.nItems, offsets: newOffsets, items, times, values };
}

/**
 * Users' last `maxLen` items as a row-major `users.length × maxLen` matrix, right-aligned (the
 * most recent item in the last column) and left-padded with `pad`. Item ids are shifted by
 * `shift` (e.g. shift 1 with pad 0 gives SASRec's 1-based ids with 0 as padding).
 */
export function padSequences(
  data: Interactions,
  maxLen: number,
  options: { users?: Int32Array; pad?: number; shift?: number } = {},
): Int32Array {
  const pad = options.pad ?? -1;
  const shift = options.shift ?? 0;
  const users = options.users;
  const rows = users ? users.length : data.nUsers;
  const out = new Int32Array(rows * maxLen).fill(pad);
  for (let r = 0; r < rows; r++) {
    const u = users ? users[r] : r;
    const s = data.offsets[u];
    const e = data.offsets[u + 1];
    const len = Math.min(maxLen, e - s);
    const base = r * maxLen + maxLen - len;
    for (let k = 0; k < len; k++) out[base + k] = data.items[e - len + k] + shift;
  }
  return out;
}

/** Number of events per user. */
export function sequenceLengths(data: Interactions): Int32Array {
  const out = new Int32Array(data.nUsers);
  for (let u = 0; u < data.nUsers; u++) out[u] = data.offsets[u + 1] - data.offsets[u];
  return out;
}
