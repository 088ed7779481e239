/**
 * Byte sources: a file as a stream of chunks, gunzipped transparently when it starts with the
 * gzip magic bytes (whatever its name). Plus content hashing for fingerprints.
 */
import { closeSync, openSync, readSync, statSync, readFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { createGunzip, gunzipSync } from 'node:zlib';
import { basename } from 'node:path';
import { DataError } from './errors.ts';

/** Size of the chunks handed to tokenizers. */
export const CHUNK_BYTES = 1 << 20;

/** True when the file starts with the gzip magic bytes 1f 8b. */
export function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const n = readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** A short display name for a path in messages (the base name). */
export function displayName(path: string): string {
  return basename(path);
}

/**
 * Yields the (decompressed) bytes of `path` in chunks. A chunk is only valid until the next one
 * is requested (buffers are reused). Decompression errors (e.g. a gzip file cut short) are thrown
 * as-is; the tokenizer adds the line.
 */
export async function* readChunks(path: string): AsyncGenerator<Uint8Array> {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new DataError(displayName(path), 0, undefined, 'is a directory, expected a file');
    size = st.size;
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(path, 0, undefined, `cannot open: ${(error as Error).message}`);
  }
  if (size >= 2 && isGzip(path)) {
    const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
    const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES }).pipe(gunzip);
    for await (const chunk of stream) yield chunk as Buffer;
    return;
  }
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size, 1)));
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      yield buffer.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** The whole (decompressed) file as bytes. For small side files. */
export function readAllBytes(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new DataError(path, 0, undefined, `cannot open: ${(error as Error).message}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (error) {
      throw new DataError(displayName(path), 0, undefined, `gzip data is corrupt or cut short (${(error as Error).message})`);
    }
  }
  return raw;
}

/** Uncompressed size estimate: the file size (gzip: 4 × the file size). Used to pre-size arrays. */
export function estimatedBytes(path: string): number {
  const size = statSync(path).size;
  return size >= 2 && isGzip(path) ? size * 4 : size;
}

/** SHA-256 (hex) of a file's raw bytes (not decompressed). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** SHA-256 (hex) of strings joined with NUL separators. */
export function sha256Text(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** JSON with object keys sorted, so equal options always hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}
