/**
 * The binary columnar cache of prepared datasets: one file per dataset fingerprint,
 * `<cacheDir>/prepared/<fingerprint>.rcds`, so loading a prepared dataset a second time reads
 * a few typed arrays instead of parsing text.
 *
 * Layout (little-endian): the 8 bytes `RCLBDS01`, a uint32 header length, the header as UTF-8
 * JSON (scalars, provenance, raw id lists, side-table vocabularies and text, and for every typed
 * array its dtype, byte offset and length), then each array's bytes at an 8-byte-aligned offset.
 * Files are written to a temporary name and renamed, so a reader never sees half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { IdMap } from './types.ts';
import type { Dataset, SideColumn, SideTable } from './types.ts';

const MAGIC = 'RCLBDS01';

type Dtype = 'i32' | 'f32' | 'f64';
type Typed = Int32Array | Float32Array | Float64Array;
interface ArrayRef {
  dtype: Dtype;
  offset: number;
  length: number;
}

function dtypeOf(a: Typed): Dtype {
  return a instanceof Int32Array ? 'i32' : a instanceof Float32Array ? 'f32' : 'f64';
}

/** Path of the cache file of a fingerprint. */
export function cachePath(cacheDir: string, fingerprint: string): string {
  return join(cacheDir, 'prepared', `${fingerprint}.rcds`);
}

/** Writes `d` into the cache (atomically). Returns the file path. */
export function writeCache(cacheDir: string, d: Dataset): string {
  const arrays: Typed[] = [];
  const placed: number[] = [];
  let offset = 0;
  const ref = (a: Typed): ArrayRef => {
    offset = Math.ceil(offset / 8) * 8;
    const r: ArrayRef = { dtype: dtypeOf(a), offset, length: a.length };
    offset += a.byteLength;
    arrays.push(a);
    placed.push(r.offset);
    return r;
  };
  const side = (t: SideTable | undefined): unknown => {
    if (!t) return null;
    const columns: Record<string, unknown> = {};
    for (const [name, c] of Object.entries(t.columns)) {
      switch (c.type) {
        case 'token':
          columns[name] = { type: c.type, values: ref(c.values), vocab: c.vocab.toArray() };
          break;
        case 'token_seq':
          columns[name] = { type: c.type, offsets: ref(c.offsets), values: ref(c.values), vocab: c.vocab.toArray() };
          break;
        case 'float':
          columns[name] = { type: c.type, values: ref(c.values) };
          break;
        case 'float_seq':
          columns[name] = { type: c.type, offsets: ref(c.offsets), values: ref(c.values) };
          break;
        case 'text':
          columns[name] = { type: c.type, text: c.values };
          break;
      }
    }
    return { n: t.n, columns };
  };
  const header = {
    version: 1,
    name: d.name,
    nUsers: d.nUsers,
    nItems: d.nItems,
    hasTime: d.hasTime,
    fingerprint: d.fingerprint,
    provenance: d.provenance,
    userIds: d.userIds.toArray(),
    itemIds: d.itemIds.toArray(),
    offsets: ref(d.offsets),
    items: ref(d.items),
    times: ref(d.times),
    values: d.values ? ref(d.values) : null,
    userSide: side(d.userSide),
    itemSide: side(d.itemSide),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const dataStart = Math.ceil((12 + headerBytes.length) / 8) * 8;
  const out = Buffer.alloc(dataStart + offset);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(out, 12);
  for (let k = 0; k < arrays.length; k++) {
    const a = arrays[k];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), dataStart + placed[k]);
  }
  const path = cachePath(cacheDir, d.fingerprint);
  mkdirSync(join(cacheDir, 'prepared'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, out);
  renameSync(tmp, path);
  return path;
}

/** Reads the cached dataset of `fingerprint`, or undefined when absent or unreadable. */
export function readCache(cacheDir: string, fingerprint: string): Dataset | undefined {
  const path = cachePath(cacheDir, fingerprint);
  if (!existsSync(path)) return undefined;
  try {
    let buf = readFileSync(path);
    if (buf.byteOffset % 8 !== 0) buf = Buffer.from(buf);
    if (buf.toString('latin1', 0, 8) !== MAGIC) return undefined;
    const headerLen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLen)) as Record<string, unknown> & {
      offsets: ArrayRef;
      items: ArrayRef;
      times: ArrayRef;
      values: ArrayRef | null;
    };
    const dataStart = Math.ceil((12 + headerLen) / 8) * 8;
    const view = (r: ArrayRef): Typed => {
      const at = buf.byteOffset + dataStart + r.offset;
      if (r.dtype === 'i32') return new Int32Array(buf.buffer, at, r.length);
      if (r.dtype === 'f32') return new Float32Array(buf.buffer, at, r.length);
      return new Float64Array(buf.buffer, at, r.length);
    };
    const side = (s: unknown): SideTable | undefined => {
      if (!s) return undefined;
      const t = s as { n: number; columns: Record<string, Record<string, unknown>> };
      const columns: Record<string, SideColumn> = {};
      for (const [name, c] of Object.entries(t.columns)) {
        const type = c.type as SideColumn['type'];
        if (type === 'token') columns[name] = { type, values: view(c.values as ArrayRef) as Int32Array, vocab: IdMap.fromRaw(c.vocab as string[]) };
        else if (type === 'token_seq') columns[name] = { type, offsets: view(c.offsets as ArrayRef) as Int32Array, values: view(c.values as ArrayRef) as Int32Array, vocab: IdMap.fromRaw(c.vocab as string[]) };
        else if (type === 'float') columns[name] = { type, values: view(c.values as ArrayRef) as Float64Array };
        else if (type === 'float_seq') columns[name] = { type, offsets: view(c.offsets as ArrayRef) as Int32Array, values: view(c.values as ArrayRef) as Float32Array };
        else columns[name] = { type: 'text', values: c.text as (string | null)[] };
      }
      return { n: t.n, columns };
    };
    if (header.version !== 1 || header.fingerprint !== fingerprint) return undefined;
    return {
      name: header.name as string,
      nUsers: header.nUsers as number,
      nItems: header.nItems as number,
      offsets: view(header.offsets) as Int32Array,
      items: view(header.items) as Int32Array,
      times: view(header.times) as Float64Array,
      values: header.values ? (view(header.values) as Float32Array) : undefined,
      userIds: IdMap.fromRaw(header.userIds as string[]),
      itemIds: IdMap.fromRaw(header.itemIds as string[]),
      hasTime: header.hasTime as boolean,
      userSide: side(header.userSide),
      itemSide: side(header.itemSide),
      fingerprint,
      provenance: header.provenance as Dataset['provenance'],
    };
  } catch {
    return undefined;
  }
}
