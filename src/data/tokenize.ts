/**
 * Streaming tokenizers for line-oriented files.
 *
 * `tokenizeFile` is the fast path for simple unquoted delimited files (`u.data`, `ratings.dat`,
 * SASRec files, most CSV logs): it scans raw bytes chunk by chunk, splits lines with the native
 * `indexOf`, splits fields in place (no strings are made unless a field is asked for as text)
 * and parses numbers straight from the bytes. A row is handed to the caller as a reused
 * {@link Fields} view. `tokenizeCsv` handles quoted CSV through `csv-parse` with the same
 * interface. Both report 1-based line numbers.
 *
 * Both hold every line to `maxLineBytes` ({@link ReadLimits}) while it streams in — the partial
 * line carried between chunks is the only thing that grows with the input, so that is where the
 * bound sits — and stop at the first NUL byte, which no text format contains: a binary file or
 * a file without line breaks fails at its first MiBs, not after filling memory.
 */
import { once } from 'node:events';
import { parse as csvParse } from 'csv-parse';
import { readChunks, displayName, formatBytes, LimitExceeded, raiseHint, resolveLimits } from './source.ts';
import type { ReadLimits } from './source.ts';
import { DataError } from './errors.ts';

/** A field separator: one or more literal characters, or `whitespace` (runs of spaces/tabs). */
export type Delimiter = string;

/** One row's fields. Valid only during the callback that received it. */
export interface Fields {
  /** Number of fields in the row. */
  readonly count: number;
  /** Field `i` as text (decoded with the file's encoding). */
  text(i: number): string;
  /** Field `i` as a number; NaN when it is empty or not a decimal number. */
  number(i: number): number;
  /**
   * Field `i` as a canonical non-negative integer (digits only, no leading zero, < 2^53), or -1.
   * Ids that pass are interned as numbers (fast); others as text.
   */
  canonicalInt(i: number): number;
  /** True when field `i` is empty. */
  isEmpty(i: number): boolean;
}

/** Called once per non-empty line; return `false` to stop reading. */
export type RowHandler = (fields: Fields, line: number) => void | boolean;

export interface TokenizeOptions {
  delimiter: Delimiter;
  /** Text decoding of fields asked for as text. Default utf8. */
  encoding?: 'utf8' | 'latin1';
  /** Name used in error messages (default: the file's base name). */
  label?: string;
  /** When set, a `"` anywhere makes the tokenizer stop and throw {@link QuotedInput}. */
  rejectQuotes?: boolean;
  /** Bounds on line length and decompression (defaults: `DEFAULT_LIMITS` in source.ts). */
  limits?: ReadLimits;
}

/** Thrown by the fast path when it meets a quote and `rejectQuotes` is set; the caller switches to csv-parse. */
export class QuotedInput extends Error {
  constructor(readonly line: number) {
    super(`quoted field at line ${line}`);
  }
}

/**
 * Most fields on one line. Memory is already bounded by the line-length bound (a field takes at
 * least two bytes), so this only stops a runaway: it must stay far above real data — a
 * one-user-per-line file (`sasrec-lines`) has one field per event, and ML-20M users reach ≈ 9,000
 * (the old cap of 4,096 refused them).
 */
const MAX_FIELDS = 1 << 20;
const CR = 13;
const LF = 10;
const QUOTE = 34;
const NUL = 0;

/** The error for a line over the bound; `line` is the 1-based line being read. */
function lineTooLong(label: string, line: number, max: number): DataError {
  return new DataError(label, line, undefined, `line longer than ${formatBytes(max)} (maxLineBytes): not a text file in this format, or line breaks missing? ${raiseHint('maxLineBytes')}`);
}

/** The error for a NUL byte; `column` is its 1-based byte position in the line. */
function nulByte(label: string, line: number, column: number): DataError {
  return new DataError(label, line, undefined, `NUL byte at byte ${column} of the line: binary data (or UTF-16 text), not a text file in this format`);
}

/**
 * The line bounds of {@link tokenizeFile} for bytes handed on to another parser (csv-parse):
 * `scan` each chunk before passing it on, `end` after the last.
 */
class LineGuard {
  /** 1-based number of the line being scanned, and its bytes so far. */
  line = 1;
  private bytes = 0;
  private lastCR = false;

  constructor(
    private readonly label: string,
    private readonly max: number,
  ) {}

  scan(chunk: Buffer): void {
    const nul = chunk.indexOf(NUL);
    const end = nul < 0 ? chunk.length : nul;
    let pos = 0;
    for (let nl = chunk.indexOf(LF); nl >= 0 && nl < end; nl = chunk.indexOf(LF, pos)) {
      const len = this.bytes + nl - pos;
      // A line of the bound plus its CR is fine: the bound does not count the line break.
      if (len > this.max && len - ((nl > 0 ? chunk[nl - 1] === CR : this.lastCR) ? 1 : 0) > this.max) throw lineTooLong(this.label, this.line, this.max);
      this.line++;
      this.bytes = 0;
      pos = nl + 1;
    }
    this.bytes += end - pos;
    if (this.bytes > this.max + 1) throw lineTooLong(this.label, this.line, this.max);
    if (nul >= 0) throw nulByte(this.label, this.line, this.bytes + 1);
    if (end > pos) this.lastCR = chunk[end - 1] === CR;
  }

  /** Checks the last line when the file does not end with a line break. */
  end(): void {
    if (this.bytes - (this.lastCR ? 1 : 0) > this.max) throw lineTooLong(this.label, this.line, this.max);
  }
}

class ByteFields implements Fields {
  buf: Buffer = Buffer.alloc(0);
  starts: Int32Array = new Int32Array(64);
  ends: Int32Array = new Int32Array(64);
  /** Canonical integer value of each field, computed while splitting; -1 when not canonical. */
  ints: Float64Array = new Float64Array(64);
  count = 0;
  constructor(readonly encoding: 'utf8' | 'latin1') {}

  text(i: number): string {
    if (i >= this.count) return '';
    return this.buf.toString(this.encoding, this.starts[i], this.ends[i]);
  }

  isEmpty(i: number): boolean {
    return i >= this.count || this.starts[i] === this.ends[i];
  }

  canonicalInt(i: number): number {
    return i < this.count ? this.ints[i] : -1;
  }

  number(i: number): number {
    if (i >= this.count) return NaN;
    const int = this.ints[i];
    if (int >= 0) return int;
    const buf = this.buf;
    let j = this.starts[i];
    const e = this.ends[i];
    if (j === e) return NaN;
    let sign = 1;
    if (buf[j] === 45 /* - */) {
      sign = -1;
      j++;
    } else if (buf[j] === 43 /* + */) j++;
    let v = 0;
    let digits = 0;
    while (j < e) {
      const d = buf[j] - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      digits++;
      j++;
    }
    if (j === e) return digits > 0 && digits <= 15 ? sign * v : digits > 0 ? slowNumber(this.text(i)) : NaN;
    if (buf[j] === 46 /* . */) {
      j++;
      let scale = 1;
      let frac = 0;
      let fracDigits = 0;
      while (j < e) {
        const d = buf[j] - 48;
        if (d < 0 || d > 9) break;
        frac = frac * 10 + d;
        scale *= 10;
        fracDigits++;
        j++;
      }
      if (j === e && digits + fracDigits > 0 && digits + fracDigits <= 15) return sign * (v + frac / scale);
    }
    return slowNumber(this.text(i));
  }
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a decimal number strictly (no hex, no empty, no spaces); NaN otherwise. */
export function slowNumber(text: string): number {
  return NUMBER_RE.test(text) ? Number(text) : NaN;
}

/** Canonical non-negative integer of a string (see {@link Fields.canonicalInt}), or -1. */
export function canonicalIntOf(text: string): number {
  const len = text.length;
  if (len === 0 || len > 15) return -1;
  if (len > 1 && text.charCodeAt(0) === 48) return -1;
  let v = 0;
  for (let j = 0; j < len; j++) {
    const d = text.charCodeAt(j) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Fields over an array of strings (csv-parse records, JSON values). */
export class StringFields implements Fields {
  values: string[] = [];
  get count(): number {
    return this.values.length;
  }
  text(i: number): string {
    return this.values[i] ?? '';
  }
  isEmpty(i: number): boolean {
    return (this.values[i] ?? '') === '';
  }
  canonicalInt(i: number): number {
    return canonicalIntOf(this.values[i] ?? '');
  }
  number(i: number): number {
    return slowNumber(this.values[i] ?? '');
  }
}

/**
 * Reads `path` line by line with the byte-level fast path, calling `onRow` for each non-empty
 * line. Returns the number of lines read. A UTF-8 BOM and trailing CR are ignored.
 */
export async function tokenizeFile(path: string, options: TokenizeOptions, onRow: RowHandler): Promise<number> {
  const label = options.label ?? displayName(path);
  const fields = new ByteFields(options.encoding ?? 'utf8');
  const delim = options.delimiter;
  const whitespace = delim === 'whitespace';
  const d0 = whitespace ? -1 : delim.charCodeAt(0);
  const d1 = !whitespace && delim.length > 1 ? delim.charCodeAt(1) : -1;
  if (!whitespace && (delim.length === 0 || delim.length > 2)) throw new Error(`tokenizeFile: unsupported delimiter ${JSON.stringify(delim)}`);
  const rejectQuotes = options.rejectQuotes ?? false;
  const maxLine = resolveLimits(options.limits).maxLineBytes;
  let line = 0;
  let stopped = false;
  let first = true;

  /** Splits [ls, le) (without the newline) into fields and calls onRow. */
  const handleLine = (buf: Buffer, ls: number, le: number): void => {
    line++;
    if (le > ls && buf[le - 1] === CR) le--;
    if (first) {
      first = false;
      if (le - ls >= 3 && buf[ls] === 0xef && buf[ls + 1] === 0xbb && buf[ls + 2] === 0xbf) ls += 3;
    }
    let n = 0;
    let starts: Int32Array = fields.starts;
    let ends: Int32Array = fields.ends;
    let ints: Float64Array = fields.ints;
    if (whitespace) {
      let j = ls;
      for (;;) {
        while (j < le && (buf[j] === 32 || buf[j] === 9)) j++;
        if (j >= le) break;
        const s = j;
        let v = 0;
        let digits = true;
        while (j < le) {
          const c = buf[j];
          if (c === 32 || c === 9) break;
          const d = c - 48;
          if (d >= 0 && d <= 9) v = v * 10 + d;
          else {
            digits = false;
            if (rejectQuotes && c === QUOTE) throw new QuotedInput(line);
          }
          j++;
        }
        if (n === starts.length) ({ starts, ends, ints } = grow(fields, label, line));
        starts[n] = s;
        ends[n] = j;
        ints[n] = digits && j - s <= 15 && (buf[s] !== 48 || j - s === 1) ? v : -1;
        n++;
      }
      if (n === 0) return; // blank line
    } else {
      if (le === ls) return; // blank line
      let s = ls;
      let j = ls;
      let v = 0;
      let digits = true;
      while (j < le) {
        const c = buf[j];
        if (c === d0 && (d1 < 0 || (j + 1 < le && buf[j + 1] === d1))) {
          if (n === starts.length) ({ starts, ends, ints } = grow(fields, label, line));
          starts[n] = s;
          ends[n] = j;
          ints[n] = digits && j > s && j - s <= 15 && (buf[s] !== 48 || j - s === 1) ? v : -1;
          n++;
          j += d1 < 0 ? 1 : 2;
          s = j;
          v = 0;
          digits = true;
          continue;
        }
        const d = c - 48;
        if (d >= 0 && d <= 9) v = v * 10 + d;
        else {
          digits = false;
          if (rejectQuotes && c === QUOTE) throw new QuotedInput(line);
        }
        j++;
      }
      if (n === starts.length) ({ starts, ends, ints } = grow(fields, label, line));
      starts[n] = s;
      ends[n] = le;
      ints[n] = digits && le > s && le - s <= 15 && (buf[s] !== 48 || le - s === 1) ? v : -1;
      n++;
    }
    fields.buf = buf;
    fields.count = n;
    if (onRow(fields, line) === false) stopped = true;
  };

  /** Processes every complete line in buf[start, end); returns the index after the last newline. */
  const handleBlock = (buf: Buffer, start: number, end: number): number => {
    let pos = start;
    while (pos < end && !stopped) {
      const nl = buf.indexOf(LF, pos);
      if (nl < 0 || nl >= end) break;
      if (nl - pos > maxLine && nl - pos - (buf[nl - 1] === CR ? 1 : 0) > maxLine) throw lineTooLong(label, line + 1, maxLine);
      handleLine(buf, pos, nl);
      pos = nl + 1;
    }
    return pos;
  };

  // The start of a line whose end has not arrived yet: the one buffer that grows with the input.
  let carry = Buffer.allocUnsafe(1 << 16);
  let carryLen = 0;
  const appendCarry = (chunk: Uint8Array, from: number, to: number): void => {
    const need = carryLen + (to - from);
    // Up to the bound plus CR and LF is a line handleBlock checks exactly; past it, no line fits.
    if (need > maxLine + 2) throw lineTooLong(label, line + 1, maxLine);
    if (need > carry.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, carry.length * 2));
      carry.copy(bigger, 0, 0, carryLen);
      carry = bigger;
    }
    carry.set(chunk.subarray(from, to), carryLen);
    carryLen = need;
  };

  try {
    for await (const raw of readChunks(path, options.limits)) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      // Lines before a NUL byte are read as usual; the line holding it is an error.
      const nul = chunk.indexOf(NUL);
      const end = nul < 0 ? chunk.length : nul;
      let pos = 0;
      if (carryLen > 0) {
        const nl = chunk.indexOf(LF);
        if (nl < 0 || nl >= end) {
          appendCarry(chunk, 0, end);
          if (nul >= 0) throw nulByte(label, line + 1, carryLen + 1);
          continue;
        }
        appendCarry(chunk, 0, nl + 1);
        handleBlock(carry, 0, carryLen);
        carryLen = 0;
        pos = nl + 1;
      }
      if (stopped) break;
      pos = handleBlock(chunk, pos, end);
      if (stopped) break;
      if (nul >= 0) throw nulByte(label, line + 1, nul - pos + 1);
      if (pos < end) appendCarry(chunk, pos, end);
    }
    if (!stopped && carryLen > 0) {
      if (carryLen - (carry[carryLen - 1] === CR ? 1 : 0) > maxLine) throw lineTooLong(label, line + 1, maxLine);
      handleLine(carry, 0, carryLen);
    }
  } catch (error) {
    if (error instanceof DataError || error instanceof QuotedInput) throw error;
    throw streamError(error, label, line);
  }
  return line;
}

function grow(fields: ByteFields, label: string, line: number): { starts: Int32Array; ends: Int32Array; ints: Float64Array } {
  if (fields.starts.length >= MAX_FIELDS) {
    throw new DataError(label, line, undefined, `more than ${MAX_FIELDS} fields on one line: is the separator right?`);
  }
  const starts = new Int32Array(fields.starts.length * 2);
  const ends = new Int32Array(fields.ends.length * 2);
  const ints = new Float64Array(fields.ints.length * 2);
  starts.set(fields.starts);
  ends.set(fields.ends);
  ints.set(fields.ints);
  fields.starts = starts;
  fields.ends = ends;
  fields.ints = ints;
  return { starts, ends, ints };
}

/** Wraps a stream/decompression error with the place it happened. */
function streamError(error: unknown, label: string, line: number): Error {
  if (error instanceof LimitExceeded) return new DataError(label, line + 1, undefined, error.reason);
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (code.startsWith('Z_') || /unexpected end of file|incorrect header|invalid|zlib/i.test(message)) {
    return new DataError(label, line + 1, undefined, `gzip data is corrupt or cut short after line ${line} (${message})`);
  }
  if (error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError)) {
    return new DataError(label, line + 1, undefined, message);
  }
  return error as Error;
}

/**
 * Reads a CSV file that may contain quoted fields (RFC 4180), through csv-parse. Same callback
 * contract as {@link tokenizeFile}; `line` is the line where the record ends.
 */
export async function tokenizeCsv(
  path: string,
  options: { delimiter: string; label?: string; encoding?: 'utf8' | 'latin1'; limits?: ReadLimits },
  onRow: RowHandler,
): Promise<number> {
  const label = options.label ?? displayName(path);
  const maxLine = resolveLimits(options.limits).maxLineBytes;
  const guard = new LineGuard(label, maxLine);
  const parser = csvParse({
    delimiter: options.delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    bom: true,
    info: true,
    encoding: options.encoding ?? 'utf8',
    // The guard bounds physical lines; this bounds a quoted record spanning lines (an unclosed quote).
    max_record_size: maxLine,
  });
  let producerError: unknown = null;
  let stopped = false;
  const abort = new AbortController();
  const producer = (async () => {
    try {
      for await (const chunk of readChunks(path, options.limits)) {
        if (stopped) break;
        const bytes = Buffer.from(chunk);
        guard.scan(bytes);
        if (!parser.write(bytes)) await once(parser, 'drain', { signal: abort.signal });
      }
      if (!stopped) {
        guard.end();
        parser.end();
      }
    } catch (error) {
      if (stopped) return;
      // The guard knows the line the bytes have reached; the parser may still be behind it.
      producerError = error instanceof LimitExceeded ? new DataError(label, guard.line, undefined, error.reason) : error;
      parser.destroy(producerError as Error);
    }
  })();
  const fields = new StringFields();
  let line = 0;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      line = rec.info.lines;
      fields.values = rec.record;
      if (onRow(fields, line) === false) {
        stopped = true;
        break;
      }
    }
  } catch (error) {
    stopped = true;
    if (error instanceof DataError) throw error;
    const cause = producerError ?? error;
    if (cause instanceof DataError) throw cause;
    const csvLine = (error as { lines?: number }).lines;
    if (producerError === null && (error as { code?: string }).code === 'CSV_MAX_RECORD_SIZE') {
      throw new DataError(label, csvLine ?? line + 1, undefined, `quoted record longer than ${formatBytes(maxLine)} (maxLineBytes): an unclosed quote? ${raiseHint('maxLineBytes')}`);
    }
    if (producerError === null && (error as { code?: string }).code?.startsWith('CSV_')) {
      throw new DataError(label, csvLine ?? line + 1, undefined, `malformed CSV: ${(error as Error).message}`);
    }
    throw streamError(cause, label, line);
  } finally {
    stopped = true;
    abort.abort();
    parser.destroy();
    await producer.catch(() => undefined);
  }
  return line;
}
