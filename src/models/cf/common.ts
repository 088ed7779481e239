/**
 * Small helpers shared by the collaborative-filtering models: the binary user×item matrix in CSR
 * form (duplicates collapsed), and shape checks. (Configs are zod schemas, parsed by
 * src/util/schema.ts.)
 */
import type { Interactions } from '../../data/types.ts';

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
