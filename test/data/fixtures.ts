/** Small data files written by the tests themselves (never copies of the shared datasets). */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll } from 'vitest';

/** A temporary folder removed after the test file; `file()` writes into it. */
export function scratch(prefix = 'reclab-data-'): { dir: string; file: (rel: string, content: string | Buffer, opts?: { gzip?: boolean; latin1?: boolean }) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    file(rel, content, opts = {}) {
      const path = join(dir, rel);
      mkdirSync(dirname(path), { recursive: true });
      let bytes = typeof content === 'string' ? Buffer.from(content, opts.latin1 ? 'latin1' : 'utf8') : content;
      if (opts.gzip) bytes = gzipSync(bytes);
      writeFileSync(path, bytes);
      return path;
    },
  };
}

/** The events of a dataset as [rawUser, rawItem] pairs in CSR order. */
export function pairs(d: { nUsers: number; offsets: Int32Array; items: Int32Array; userIds: { toRaw(i: number): string }; itemIds: { toRaw(i: number): string } }): string[] {
  const out: string[] = [];
  for (let u = 0; u < d.nUsers; u++) for (let p = d.offsets[u]; p < d.offsets[u + 1]; p++) out.push(`${d.userIds.toRaw(u)}:${d.itemIds.toRaw(d.items[p])}`);
  return out;
}
