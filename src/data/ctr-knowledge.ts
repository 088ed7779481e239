/**
 * Pre-stored knowledge vectors: one file holding a vector per user and per item, keyed by raw id,
 * so a CTR model (training or serving) reads a table and calls no LLM.
 *
 * Format (`.rkv`): one line of JSON — `{"format":"reclab-knowledge-vectors","version":1,"dim":…,
 * "users":[raw ids…],"items":[raw ids…],"meta":{…}}` — then a newline, then float32
 * little-endian values: users × dim, then items × dim.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const KNOWLEDGE_FORMAT = 'reclab-knowledge-vectors';

/** Vectors keyed by raw id. */
export interface KnowledgeVectors {
  dim: number;
  userIds: string[];
  itemIds: string[];
  user: Float32Array;
  item: Float32Array;
  /** Where the vectors come from (source, prompts, encoder, call counts…). */
  meta: Record<string, unknown>;
}

/** Writes a vectors file. */
export function saveKnowledgeVectors(path: string, v: KnowledgeVectors): void {
  if (v.user.length !== v.userIds.length * v.dim || v.item.length !== v.itemIds.length * v.dim) throw new Error(`${path}: vector tables do not match ids × dim`);
  const head = Buffer.from(`${JSON.stringify({ format: KNOWLEDGE_FORMAT, version: 1, dim: v.dim, users: v.userIds, items: v.itemIds, meta: v.meta })}\n`, 'utf8');
  const body = Buffer.alloc(4 * (v.user.length + v.item.length));
  for (let i = 0; i < v.user.length; i++) body.writeFloatLE(v.user[i], 4 * i);
  for (let i = 0; i < v.item.length; i++) body.writeFloatLE(v.item[i], 4 * (v.user.length + i));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat([head, body]));
}

/** Reads a vectors file, checking its header and size. */
export function loadKnowledgeVectors(path: string): KnowledgeVectors {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read knowledge vectors (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); build them with \`reclab knowledge build\``);
  }
  const nl = buf.indexOf(10);
  if (nl < 0) throw new Error(`${path}: not a knowledge vectors file (no header line)`);
  let h: { format: string; version: number; dim: number; users: string[]; items: string[]; meta: Record<string, unknown> };
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  } catch (e) {
    throw new Error(`${path}:1: invalid header JSON (${(e as Error).message})`);
  }
  if (h.format !== KNOWLEDGE_FORMAT) throw new Error(`${path}:1: field format is "${h.format}", expected "${KNOWLEDGE_FORMAT}"`);
  const nu = h.users.length * h.dim;
  const ni = h.items.length * h.dim;
  const body = buf.subarray(nl + 1);
  if (body.length !== 4 * (nu + ni)) throw new Error(`${path}: body has ${body.length} bytes, header says ${4 * (nu + ni)}`);
  const all = new Float32Array(nu + ni);
  for (let i = 0; i < all.length; i++) all[i] = body.readFloatLE(4 * i);
  return { dim: h.dim, userIds: h.users, itemIds: h.items, user: all.subarray(0, nu), item: all.subarray(nu), meta: h.meta };
}

/**
 * The vectors as dense tables for a data set's users and items (raw ids → dense order given);
 * a user or item without a vector gets zeros, counted in `missing`.
 */
export function knowledgeTables(v: KnowledgeVectors, userIds: readonly string[], itemIds: readonly string[]): { dim: number; user: Float32Array; item: Float32Array; missing: { users: number; items: number } } {
  const d = v.dim;
  const map = (ids: string[], table: Float32Array, want: readonly string[]): { t: Float32Array; miss: number } => {
    const at = new Map(ids.map((id, k) => [id, k]));
    const t = new Float32Array(want.length * d);
    let miss = 0;
    want.forEach((id, k) => {
      const j = at.get(id);
      if (j === undefined) miss++;
      else t.set(table.subarray(j * d, j * d + d), k * d);
    });
    return { t, miss };
  };
  const u = map(v.userIds, v.user, userIds);
  const i = map(v.itemIds, v.item, itemIds);
  return { dim: d, user: u.t, item: i.t, missing: { users: u.miss, items: i.miss } };
}
