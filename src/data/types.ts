/**
 * The core data types of reclab. Every reader produces a {@link Dataset}; every split produces
 * three {@link Interactions} views; every model trains on an {@link Interactions}.
 *
 * Layout: interactions are stored column-wise in typed arrays and grouped by user in CSR form
 * (compressed sparse rows), so a user's sequence is a `subarray` — no copies, no objects per event.
 * Within a user, events are in time order with a stable tie-break (the source's order), which is
 * what sequential models and leave-one-out splits need.
 */

/** Maps raw external ids (strings as they appear in the source) to dense ids `0..size-1` and back. */
export class IdMap {
  private readonly index = new Map<string, number>();
  private readonly raws: string[] = [];

  /** Builds a map whose dense id `i` is `raws[i]`. Throws on duplicates. */
  static fromRaw(raws: readonly string[]): IdMap {
    const map = new IdMap();
    for (const raw of raws) {
      if (map.index.has(raw)) throw new Error(`IdMap.fromRaw: duplicate raw id "${raw}"`);
      map.intern(raw);
    }
    return map;
  }

  /** Number of ids. */
  get size(): number {
    return this.raws.length;
  }

  /** Dense id of `raw`, adding it at the end if new. */
  intern(raw: string): number {
    let id = this.index.get(raw);
    if (id === undefined) {
      id = this.raws.length;
      this.index.set(raw, id);
      this.raws.push(raw);
    }
    return id;
  }

  /** Dense id of `raw`, or `undefined` when unknown. */
  get(raw: string): number | undefined {
    return this.index.get(raw);
  }

  /** Raw id of dense id `id`. */
  toRaw(id: number): string {
    const raw = this.raws[id];
    if (raw === undefined) throw new RangeError(`IdMap.toRaw: id ${id} out of range 0..${this.raws.length - 1}`);
    return raw;
  }

  /** All raw ids in dense-id order (a copy). */
  toArray(): string[] {
    return this.raws.slice();
  }
}

/** One column of a user or item side table. Missing values: -1 for tokens, NaN for floats, null for text. */
export type SideColumn =
  | { type: 'token'; values: Int32Array; vocab: IdMap }
  | { type: 'token_seq'; offsets: Int32Array; values: Int32Array; vocab: IdMap }
  | { type: 'float'; values: Float64Array }
  | { type: 'float_seq'; offsets: Int32Array; values: Float32Array }
  | { type: 'text'; values: (string | null)[] };

/** Side information for users or items: row `i` describes dense id `i`. */
export interface SideTable {
  /** Number of rows (equals nUsers or nItems). */
  n: number;
  columns: Record<string, SideColumn>;
}

/**
 * Interactions grouped by user in CSR form. User `u`'s events are positions
 * `offsets[u] .. offsets[u+1]-1` of the parallel arrays, in time order.
 */
export interface Interactions {
  nUsers: number;
  nItems: number;
  /** Length nUsers + 1; offsets[0] = 0, offsets[nUsers] = number of events. */
  offsets: Int32Array;
  /** Dense item id of each event. */
  items: Int32Array;
  /** Event time in seconds since the Unix epoch; the event's ordinal within the source when the source has no time. */
  times: Float64Array;
  /** Rating or weight of each event, when the source has one. */
  values?: Float32Array;
}

/** Where a dataset came from and how it was prepared; enough to reproduce it. */
export interface Provenance {
  /** Path or registry name of the source. */
  source: string;
  /** Reader that parsed it (e.g. `ml-1m`, `sasrec`, `csv`). */
  format: string;
  /** Preparation options applied after reading (dedup, k-core, thresholds…), as plain JSON. */
  preparation: Record<string, unknown>;
}

/** A whole prepared dataset: interactions plus the maps back to raw ids and side tables. */
export interface Dataset extends Interactions {
  name: string;
  userIds: IdMap;
  itemIds: IdMap;
  /** False when the source has no timestamps and `times` holds event order. */
  hasTime: boolean;
  userSide?: SideTable;
  itemSide?: SideTable;
  /** Stable hash of source content + preparation options (hex). Identifies the exact data of a result. */
  fingerprint: string;
  provenance: Provenance;
}

/** How a split was made; recorded with every result. */
export interface SplitProtocol {
  kind: 'loo' | 'temporal' | 'ratio';
  /** Human-readable one-line description, e.g. "leave-one-out: last → test, second-to-last → valid". */
  description: string;
  seed?: number;
  /** Any further options of the split, as plain JSON. */
  options: Record<string, unknown>;
}

/** Train / validation / test views over one dataset, all with the dataset's nUsers and nItems. */
export interface Split {
  dataset: Dataset;
  train: Interactions;
  valid: Interactions;
  test: Interactions;
  protocol: SplitProtocol;
}

/** The events of user `u` as item ids (a view, not a copy). */
export function userItems(data: Interactions, u: number): Int32Array {
  return data.items.subarray(data.offsets[u], data.offsets[u + 1]);
}

/** Number of events of user `u`. */
export function userLength(data: Interactions, u: number): number {
  return data.offsets[u + 1] - data.offsets[u];
}
