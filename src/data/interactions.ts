/**
 * Small constructors and combinators for {@link Interactions}: building from per-user lists
 * (tests, sessions, synthetic data) and merging two views user by user (train + valid history
 * at test time).
 */
import type { Interactions } from './types.ts';

/**
 * Builds an Interactions from one item list per user (in time order). Times are the event
 * ordinals within each user unless `times` is given.
 */
export function fromSequences(
  sequences: readonly (readonly number[])[],
  nItems: number,
  times?: readonly (readonly number[])[],
): Interactions {
  const nUsers = sequences.length;
  const offsets = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) offsets[u + 1] = offsets[u] + sequences[u].length;
  const total = offsets[nUsers];
  const items = new Int32Array(total);
  const ts = new Float64Array(total);
  for (let u = 0; u < nUsers; u++) {
    const seq = sequences[u];
    for (let j = 0; j < seq.length; j++) {
      const item = seq[j];
      if (!Number.isInteger(item) || item < 0 || item >= nItems) {
        throw new RangeError(`fromSequences: user ${u} event ${j}: item ${item} outside 0..${nItems - 1}`);
      }
      items[offsets[u] + j] = item;
      ts[offsets[u] + j] = times ? times[u][j] : j;
    }
  }
  return { nUsers, nItems, offsets, items, times: ts };
}

/**
 * Concatenates two views user by user: user u's events are `a`'s followed by `b`'s. Both must
 * have the same nUsers and nItems. Used to form the test-time history train ∪ valid.
 */
export function concatInteractions(a: Interactions, b: Interactions): Interactions {
  if (a.nUsers !== b.nUsers || a.nItems !== b.nItems) {
    throw new Error(`concatInteractions: shapes differ (${a.nUsers}×${a.nItems} vs ${b.nUsers}×${b.nItems})`);
  }
  const nUsers = a.nUsers;
  const offsets = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) {
    offsets[u + 1] = offsets[u] + (a.offsets[u + 1] - a.offsets[u]) + (b.offsets[u + 1] - b.offsets[u]);
  }
  const total = offsets[nUsers];
  const items = new Int32Array(total);
  const times = new Float64Array(total);
  const withValues = a.values !== undefined || b.values !== undefined;
  const values = withValues ? new Float32Array(total) : undefined;
  for (let u = 0; u < nUsers; u++) {
    let out = offsets[u];
    for (const src of [a, b]) {
      const start = src.offsets[u];
      const end = src.offsets[u + 1];
      items.set(src.items.subarray(start, end), out);
      times.set(src.times.subarray(start, end), out);
      if (values) {
        if (src.values) values.set(src.values.subarray(start, end), out);
        else values.fill(1, out, out + end - start);
      }
      out += end - start;
    }
  }
  return { nUsers, nItems: a.nItems, offsets, items, times, values };
}
