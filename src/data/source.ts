/**
 * Byte sources: a file as a stream of chunks, gunzipped transparently when it starts with the
 * gzip magic bytes (whatever its name). Plus content hashing for fingerprints, the bounds every
 * read obeys ({@link ReadLimits}) and file-system errors in words.
 */
import { closeSync, lstatSync, openSync, readlinkSync, readSync, statSync, readFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { basename } from 'node:path';
import { DataError } from './errors.ts';

/**
 * Bounds on what reading one source may consume, so that a wrong or hostile file (a binary, a
 * file without line breaks, a gzip bomb) fails fast with little memory instead of filling it.
 * Real data stays far below every default; each can be raised per read (DataSpec keys of the
 * same names, or the CLI flags `--max-line-bytes`, `--max-decompressed-bytes`,
 * `--max-compression-ratio`). They do not change what a successful read returns, so they are
 * not part of any fingerprint.
 */
export interface ReadLimits {
  /** Longest line accepted, in bytes, not counting its line break (`\n` or `\r\n`). Also the longest quoted CSV record. */
  maxLineBytes?: number;
  /** Most bytes one compressed file (gzip, a zip entry, a Parquet file's pages) may decompress to. */
  maxDecompressedBytes?: number;
  /** Most decompressed bytes per compressed byte, checked once {@link RATIO_FLOOR_BYTES} have come out. */
  maxCompressionRatio?: number;
}

/**
 * Defaults of {@link ReadLimits}. 4 MiB per line: the longest lines in public recommendation
 * data (one user's whole library per line, as in the Steam user-items dump) are about 1 MB.
 * 16 GiB decompressed: 18 × ML-32M's 0.9 GB, and more text than the events of it fit in memory.
 * Ratio 100: text logs gzip 3–10 ×, while a bomb of repeated bytes reaches deflate's ~1000 ×.
 */
export const DEFAULT_LIMITS: Readonly<Required<ReadLimits>> = Object.freeze({
  maxLineBytes: 4 << 20,
  maxDecompressedBytes: 16 * 2 ** 30,
  maxCompressionRatio: 100,
});

/** Output below this size is never judged by its compression ratio: small, repetitive files are fine. */
export const RATIO_FLOOR_BYTES = 16 << 20;

/** `limits` with defaults filled in; throws when a value is not a positive number (integer for byte counts). */
export function resolveLimits(limits: ReadLimits = {}): Required<ReadLimits> {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ReadLimits)[]) {
    const v = limits[key];
    if (v === undefined) continue;
    const isBytes = key !== 'maxCompressionRatio';
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v) || (isBytes && !Number.isInteger(v))) {
      throw new DataError(key, 0, undefined, `expected a positive ${isBytes ? 'integer (bytes)' : 'number'}, got ${JSON.stringify(v)}`);
    }
    out[key] = v;
  }
  return out;
}

/**
 * `n` bytes for a message: `4 MiB`, `16 GiB`, or the plain count when it is not a whole unit
 * (a bound is printed exactly). `approx` rounds to one decimal instead, for amounts measured.
 */
export function formatBytes(n: number, approx = false): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
    if (approx && n >= size) return `${(n / size).toFixed(1)} ${unit}`;
  }
  return `${n} bytes`;
}

/**
 * Parses a byte count as people write it: `1000`, `64k`, `4MiB`, `16GB` (k/M/G/T, with or
 * without `i`/`B`, all binary: 1k = 1024). Throws on anything else.
 */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (!m) throw new Error(`expected a byte count such as 1000, 64KiB, 4MiB or 16GiB, got "${text}"`);
  const scale = m[2] ? 1024 ** ('kmgt'.indexOf(m[2].toLowerCase()) + 1) : 1;
  const n = Math.round(Number(m[1]) * scale);
  if (!(n > 0)) throw new Error(`expected a positive byte count, got "${text}"`);
  return n;
}

/**
 * Thrown by {@link readChunks} when a bound is crossed. The tokenizers turn it into a
 * {@link DataError} with the line they were on; `reason` names the bound.
 */
export class LimitExceeded extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'LimitExceeded';
  }
}

/** How to raise a bound, for the end of a message. */
export function raiseHint(key: keyof ReadLimits): string {
  const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return `raise it with ${flag} or ${key} in the data spec if the file is right`;
}

/** Why a file-system call failed, in words, with the errno code. */
export function fsReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'ELOOP':
      return 'too many levels of symbolic links: a symlink loop? (ELOOP)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${e.code})`;
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder (ENOTDIR)';
    case 'EISDIR':
      return 'is a folder, expected a file (EISDIR)';
    case 'ENAMETOOLONG':
      return 'path too long (ENAMETOOLONG)';
    case 'EMFILE':
    case 'ENFILE':
      return `too many open files (${e.code})`;
    case 'EIO':
      return 'input/output error: a failing disk or network mount? (EIO)';
    default:
      return `cannot open (${e.message ?? String(error)})`;
  }
}

/**
 * What is at `path`, links followed: its Stats, or `undefined` when nothing is there. Every
 * other failure — a symlink loop, a link to a missing target, no permission — throws a
 * {@link DataError} that says which, so it is never reported as "not found".
 */
export function statPath(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new DataError(path, 0, undefined, fsReason(error));
    // stat follows links, so a dangling link also says ENOENT: tell it apart from nothing.
    let target: string | undefined;
    try {
      if (lstatSync(path).isSymbolicLink()) target = readlinkSync(path);
    } catch {
      // Nothing at the path itself.
    }
    if (target === undefined) return undefined;
    throw new DataError(path, 0, undefined, `is a symbolic link to ${JSON.stringify(target)}, which does not exist`);
  }
}

/** {@link statPath} for a path that must exist (`not found` otherwise). */
export function requirePath(path: string): Stats {
  const st = statPath(path);
  if (!st) throw new DataError(path, 0, undefined, 'not found');
  return st;
}

/** Size of the chunks handed to tokenizers. */
export const CHUNK_BYTES = 1 << 20;

/** True when the file starts with the gzip magic bytes 1f 8b. */
export function isGzip(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new DataError(path, 0, undefined, fsReason(error));
  }
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
 * is requested (buffers are reused). Gzip output is counted as it streams: past
 * `maxDecompressedBytes`, or past `maxCompressionRatio` × the compressed bytes consumed (once
 * {@link RATIO_FLOOR_BYTES} have come out), it stops with {@link LimitExceeded} — a bomb fails
 * after a few MiB, not after inflating everything. Decompression errors (e.g. a gzip file cut
 * short) are thrown as-is; the tokenizer adds the line.
 */
export async function* readChunks(path: string, limits: ReadLimits = {}): AsyncGenerator<Uint8Array> {
  const st = requirePath(path);
  if (st.isDirectory()) throw new DataError(displayName(path), 0, undefined, 'is a directory, expected a file');
  const size = st.size;
  if (size >= 2 && isGzip(path)) {
    const { maxDecompressedBytes, maxCompressionRatio } = resolveLimits(limits);
    const file = createReadStream(path, { highWaterMark: CHUNK_BYTES });
    const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
    // pipeline (unlike pipe) passes a read error on to gunzip, so the loop below sees it.
    pipeline(file, gunzip, () => {});
    let out = 0;
    try {
      for await (const chunk of gunzip) {
        out += (chunk as Buffer).length;
        if (out > maxDecompressedBytes) {
          throw new LimitExceeded(`gzip data decompresses to more than ${formatBytes(maxDecompressedBytes)} (maxDecompressedBytes): ${raiseHint('maxDecompressedBytes')}`);
        }
        // bytesWritten: compressed bytes the inflater has consumed so far.
        if (out > RATIO_FLOOR_BYTES && out > maxCompressionRatio * gunzip.bytesWritten) {
          throw new LimitExceeded(
            `gzip data expands more than ${maxCompressionRatio} × (maxCompressionRatio: ${formatBytes(gunzip.bytesWritten, true)} gave ${formatBytes(out, true)} so far): a decompression bomb? ${raiseHint('maxCompressionRatio')}`,
          );
        }
        yield chunk as Buffer;
      }
    } finally {
      gunzip.destroy();
      file.destroy();
    }
    return;
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new DataError(path, 0, undefined, fsReason(error));
  }
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

/** The whole (decompressed) file as bytes, within the same bounds as {@link readChunks}. For small side files. */
export function readAllBytes(path: string, limits: ReadLimits = {}): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new DataError(path, 0, undefined, fsReason(error));
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    const { maxDecompressedBytes, maxCompressionRatio } = resolveLimits(limits);
    // The whole input is known, so both bounds become one output cap zlib enforces itself.
    const byRatio = Math.max(RATIO_FLOOR_BYTES, maxCompressionRatio * raw.length);
    const cap = Math.min(maxDecompressedBytes, byRatio);
    try {
      return gunzipSync(raw, { maxOutputLength: cap });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        const reason =
          cap === maxDecompressedBytes
            ? `gzip data decompresses to more than ${formatBytes(cap)} (maxDecompressedBytes): ${raiseHint('maxDecompressedBytes')}`
            : `gzip data expands more than ${maxCompressionRatio} × (maxCompressionRatio: ${formatBytes(raw.length, true)} gave over ${formatBytes(cap, true)}): a decompression bomb? ${raiseHint('maxCompressionRatio')}`;
        throw new DataError(displayName(path), 0, undefined, reason);
      }
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
