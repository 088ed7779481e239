/**
 * Building a {@link Dataset} from a stream of events without a JS object per event.
 *
 * Readers push (user, item, time, value) into an {@link EventBuilder}: raw ids are interned to
 * provisional dense ids (numbers through a lookup table, other strings through a Map), columns
 * live in typed arrays grown geometrically. `finish()` then
 *   1. re-indexes users and items in raw-id order (numeric order when every raw id is a
 *      canonical integer, else code-unit string order), so dense ids do not depend on file order;
 *   2. groups events by user with a stable counting sort;
 *   3. sorts each user's events by time, stably — ties keep the order of the source. This is
 *      the documented tie-break: equal timestamps stay in file order.
 */
import { IdMap } from './types.ts';
import type { Dataset, SideColumn, SideTable } from './types.ts';
import { canonicalIntOf } from './tokenize.ts';

const TABLE_LIMIT = 1 << 24;

/** Raw id → provisional dense id, first-seen order. Canonical integers skip string creation. */
export class Interner {
  private table = new Int32Array(0);
  private readonly bigNumbers = new Map<number, number>();
  private readonly strings = new Map<string, number>();
  /** Raw id per provisional id: a number for canonical integers, else the string. */
  readonly raws: (string | number)[] = [];
  /** False as soon as one raw id is not a canonical integer. */
  allNumeric = true;

  get size(): number {
    return this.raws.length;
  }

  /** Interns a canonical non-negative integer id. */
  number(n: number): number {
    if (n < TABLE_LIMIT) {
      if (n >= this.table.length) {
        let len = Math.max(1024, this.table.length * 2);
        while (len <= n) len *= 2;
        const bigger = new Int32Array(Math.min(len, TABLE_LIMIT)).fill(-1);
        bigger.set(this.table);
        this.table = bigger;
      }
      let id = this.table[n];
      if (id < 0) {
        id = this.raws.length;
        this.table[n] = id;
        this.raws.push(n);
      }
      return id;
    }
    let id = this.bigNumbers.get(n);
    if (id === undefined) {
      id = this.raws.length;
      this.bigNumbers.set(n, id);
      this.raws.push(n);
    }
    return id;
  }

  /** Interns any raw id given as text (canonical integers are routed to {@link number}). */
  text(s: string): number {
    const n = canonicalIntOf(s);
    if (n >= 0) return this.number(n);
    let id = this.strings.get(s);
    if (id === undefined) {
      id = this.raws.length;
      this.strings.set(s, id);
      this.raws.push(s);
      this.allNumeric = false;
    }
    return id;
  }

  /** Provisional id of a raw id given as text, or -1. */
  lookup(s: string): number {
    const n = canonicalIntOf(s);
    if (n >= 0) {
      if (n < TABLE_LIMIT) return n < this.table.length ? this.table[n] : -1;
      return this.bigNumbers.get(n) ?? -1;
    }
    return this.strings.get(s) ?? -1;
  }

  /** Permutation old → new that orders ids by raw id (numeric when all are integers). */
  sortedOrder(): { oldToNew: Int32Array; newToOld: Int32Array } {
    const n = this.raws.length;
    const newToOld = new Int32Array(n);
    for (let i = 0; i < n; i++) newToOld[i] = i;
    const raws = this.raws;
    if (this.allNumeric) {
      const keys = new Float64Array(n);
      for (let i = 0; i < n; i++) keys[i] = raws[i] as number;
      // Sort ids by key; keys are distinct, so pack (key, id) is unnecessary: sort ids by comparator.
      const arr = Array.from(newToOld);
      arr.sort((a, b) => keys[a] - keys[b]);
      newToOld.set(arr);
    } else {
      const strs = raws.map(String);
      const arr = Array.from(newToOld);
      arr.sort((a, b) => (strs[a] < strs[b] ? -1 : strs[a] > strs[b] ? 1 : 0));
      newToOld.set(arr);
    }
    const oldToNew = new Int32Array(n);
    for (let i = 0; i < n; i++) oldToNew[newToOld[i]] = i;
    return { oldToNew, newToOld };
  }
}

/** Side information collected by raw id while reading; turned into a {@link SideTable} at the end. */
export class SideBuilder {
  private readonly rows = new Map<string, Map<string, SideValue>>();
  private readonly types = new Map<string, SideColumn['type']>();

  /** Declares column `name` of `type` (columns keep declaration order). */
  declare(name: string, type: SideColumn['type']): void {
    if (!this.types.has(name)) this.types.set(name, type);
  }

  /** Sets `name` of raw id `raw` (first value wins unless `overwrite`). */
  set(raw: string, name: string, value: SideValue, overwrite = false): void {
    let row = this.rows.get(raw);
    if (!row) {
      row = new Map();
      this.rows.set(raw, row);
    }
    if (overwrite || !row.has(name)) row.set(name, value);
  }

  get columnCount(): number {
    return this.types.size;
  }

  /** Builds the table for dense ids whose raw ids are `raws` (row i ↔ raws[i]). */
  build(raws: readonly string[]): SideTable {
    const n = raws.length;
    const columns: Record<string, SideColumn> = {};
    for (const [name, type] of this.types) {
      const get = (i: number): SideValue | undefined => this.rows.get(raws[i])?.get(name);
      columns[name] = buildColumn(type, n, get);
    }
    return { n, columns };
  }
}

/** A side value as read: token, token list, number, number list or text. */
export type SideValue = string | number | string[] | number[] | null;

function buildColumn(type: SideColumn['type'], n: number, get: (i: number) => SideValue | undefined): SideColumn {
  switch (type) {
    case 'token': {
      const vocab = new IdMap();
      const values = new Int32Array(n).fill(-1);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        if (v !== undefined && v !== null && v !== '') values[i] = vocab.intern(String(v));
      }
      return { type, values, vocab };
    }
    case 'token_seq': {
      const vocab = new IdMap();
      const offsets = new Int32Array(n + 1);
      const flat: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = get(i);
        const list = Array.isArray(v) ? v : v === undefined || v === null || v === '' ? [] : [v];
        for (const t of list) flat.push(vocab.intern(String(t)));
        offsets[i + 1] = flat.length;
      }
      return { type, offsets, values: Int32Array.from(flat), vocab };
    }
    case 'float': {
      const values = new Float64Array(n).fill(NaN);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        if (typeof v === 'number') values[i] = v;
      }
      return { type, values };
    }
    case 'float_seq': {
      const offsets = new Int32Array(n + 1);
      const flat: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = get(i);
        if (Array.isArray(v)) for (const x of v) flat.push(Number(x));
        offsets[i + 1] = flat.length;
      }
      return { type, offsets, values: Float32Array.from(flat) };
    }
    case 'text': {
      const values: (string | null)[] = new Array<string | null>(n).fill(null);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        if (v !== undefined && v !== null) values[i] = Array.isArray(v) ? v.join(' ') : String(v);
      }
      return { type, values };
    }
  }
}

/** What {@link EventBuilder.finish} needs besides the events. */
export interface FinishInfo {
  name: string;
  source: string;
  format: string;
  /** Fingerprint of the source content and reader options (hex). */
  fingerprint: string;
  userSide?: SideBuilder;
  itemSide?: SideBuilder;
}

/** Collects events in typed arrays grown geometrically. */
export class EventBuilder {
  readonly users = new Interner();
  readonly items = new Interner();
  private u: Int32Array;
  private i: Int32Array;
  private t: Float64Array;
  private v: Float32Array | null = null;
  length = 0;
  /** Set by the reader: false when the source has no timestamps (times are then event ordinals). */
  hasTime: boolean;

  constructor(options: { hasTime: boolean; hasValue: boolean; capacity?: number }) {
    const cap = Math.max(1024, Math.min(options.capacity ?? 1 << 16, 1 << 30));
    this.u = new Int32Array(cap);
    this.i = new Int32Array(cap);
    this.t = new Float64Array(cap);
    if (options.hasValue) this.v = new Float32Array(cap);
    this.hasTime = options.hasTime;
  }

  private grow(): void {
    const cap = Math.ceil(this.u.length * 1.5);
    const u = new Int32Array(cap);
    u.set(this.u);
    this.u = u;
    const i = new Int32Array(cap);
    i.set(this.i);
    this.i = i;
    const t = new Float64Array(cap);
    t.set(this.t);
    this.t = t;
    if (this.v) {
      const v = new Float32Array(cap);
      v.set(this.v);
      this.v = v;
    }
  }

  /** Adds one event with provisional ids from {@link users}/{@link items}. `time` NaN = use the event ordinal. */
  add(user: number, item: number, time: number, value = 1): void {
    const n = this.length;
    if (n === this.u.length) this.grow();
    this.u[n] = user;
    this.i[n] = item;
    this.t[n] = time !== time ? n : time;
    if (this.v) this.v[n] = value;
    this.length = n + 1;
  }

  /** Forgets the value column (the source turned out to have none). */
  dropValues(): void {
    this.v = null;
  }

  get hasValue(): boolean {
    return this.v !== null;
  }

  /** Groups, sorts and re-indexes; see the file comment. The builder must not be used afterwards. */
  finish(info: FinishInfo): Dataset {
    const n = this.length;
    const uOrder = this.users.sortedOrder();
    const iOrder = this.items.sortedOrder();
    const nUsers = this.users.size;
    const nItems = this.items.size;
    const userOf = this.u;
    // Stable counting sort by (new) user id.
    const offsets = new Int32Array(nUsers + 1);
    const userNew = uOrder.oldToNew;
    for (let k = 0; k < n; k++) offsets[userNew[userOf[k]] + 1]++;
    for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
    const perm = new Int32Array(n);
    const cursor = offsets.slice(0, nUsers);
    for (let k = 0; k < n; k++) perm[cursor[userNew[userOf[k]]]++] = k;
    // Stable sort by time within each user (segments already in order cost one pass).
    sortSegmentsByTime(offsets, perm, this.t);
    this.u = new Int32Array(0);
    const items = new Int32Array(n);
    const times = new Float64Array(n);
    const values = this.v ? new Float32Array(n) : undefined;
    const itemOf = this.i;
    const timeOf = this.t;
    const valueOf = this.v;
    const itemMap = iOrder.oldToNew;
    for (let p = 0; p < n; p++) {
      const k = perm[p];
      items[p] = itemMap[itemOf[k]];
      times[p] = timeOf[k];
      if (values) values[p] = valueOf![k];
    }
    this.i = new Int32Array(0);
    this.t = new Float64Array(0);
    this.v = null;
    const userRaws = Array.from(uOrder.newToOld, (o) => String(this.users.raws[o]));
    const itemRaws = Array.from(iOrder.newToOld, (o) => String(this.items.raws[o]));
    const dataset: Dataset = {
      name: info.name,
      nUsers,
      nItems,
      offsets,
      items,
      times,
      values,
      userIds: IdMap.fromRaw(userRaws),
      itemIds: IdMap.fromRaw(itemRaws),
      hasTime: this.hasTime,
      fingerprint: info.fingerprint,
      provenance: { source: info.source, format: info.format, preparation: {} },
    };
    if (info.userSide && info.userSide.columnCount > 0) dataset.userSide = info.userSide.build(userRaws);
    if (info.itemSide && info.itemSide.columnCount > 0) dataset.itemSide = info.itemSide.build(itemRaws);
    return dataset;
  }
}

/**
 * Sorts `perm[offsets[u] .. offsets[u+1])` by `times[perm[·]]` for every u, stably (ties keep
 * the current order, i.e. source order). Already-sorted segments cost one pass.
 */
export function sortSegmentsByTime(offsets: Int32Array, perm: Int32Array, times: Float64Array): void {
  const nUsers = offsets.length - 1;
  let keys = new Float64Array(256);
  let scratch = new Int32Array(256);
  for (let u = 0; u < nUsers; u++) {
    const s = offsets[u];
    const e = offsets[u + 1];
    const len = e - s;
    if (len < 2) continue;
    let sorted = true;
    let lo = Infinity;
    let hi = -Infinity;
    let integral = true;
    for (let p = s; p < e; p++) {
      const t = times[perm[p]];
      if (p > s && t < times[perm[p - 1]]) sorted = false;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
      if (integral && t !== Math.floor(t)) integral = false;
    }
    if (sorted) continue;
    if (len <= 16) {
      // Insertion sort: stable.
      for (let a = s + 1; a < e; a++) {
        const k = perm[a];
        const tk = times[k];
        let b = a - 1;
        while (b >= s && times[perm[b]] > tk) {
          perm[b + 1] = perm[b];
          b--;
        }
        perm[b + 1] = k;
      }
      continue;
    }
    if (len > keys.length) {
      keys = new Float64Array(len * 2);
      scratch = new Int32Array(len * 2);
    }
    // Pack (time, position) into one exact double and sort natively when it fits in 2^53.
    if (integral && (hi - lo + 1) * len < 9007199254740992) {
      for (let p = 0; p < len; p++) keys[p] = (times[perm[s + p]] - lo) * len + p;
      const view = keys.subarray(0, len);
      view.sort();
      for (let p = 0; p < len; p++) scratch[p] = perm[s + (view[p] % len)];
      perm.set(scratch.subarray(0, len), s);
    } else {
      // perm is increasing within a segment (the counting sort kept source order), so the
      // event index itself is the stable tie-break.
      const idx = Array.from(perm.subarray(s, e));
      idx.sort((a, b) => times[a] - times[b] || a - b);
      perm.set(idx, s);
    }
  }
}
