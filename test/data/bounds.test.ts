/**
 * Every read is bounded (issue 15): a line longer than `maxLineBytes`, a NUL byte, gzip / zip /
 * Parquet data expanding past `maxDecompressedBytes` or `maxCompressionRatio` fail with file,
 * line and the bound's name — for each format family, through both tokenizers and across a
 * chunk boundary — while data exactly at a bound still reads exactly. File-system failures
 * (a symlink loop, a dangling link) are named, never "not found".
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readSource, detectFormat } from '../../src/data/readers/index.ts';
import type { FileFormat, ReaderOptions } from '../../src/data/readers/index.ts';
import { DataError } from '../../src/data/errors.ts';
import { loadDataset } from '../../src/data/load.ts';
import { fetchDataset } from '../../src/data/registry.ts';
import { CHUNK_BYTES, parseBytes, readAllBytes } from '../../src/data/source.ts';
import type { ReadLimits } from '../../src/data/source.ts';
import { pairs, scratch } from './fixtures.ts';

const fx = scratch('reclab-bounds-');
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SMALL: ReadLimits = { maxLineBytes: 1000 };

async function failure(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, but the read succeeded');
}

async function dataFailure(run: () => Promise<unknown>): Promise<DataError> {
  const e = await failure(run);
  if (!(e instanceof DataError)) throw new Error(`expected a DataError, got ${e?.constructor?.name}: ${e?.message}`);
  return e;
}

function read(path: string, format: FileFormat, limits: ReadLimits = SMALL, options: ReaderOptions = {}) {
  return readSource(path, format, options, { limits });
}

/** A JSON line of exactly `bytes` bytes (without its newline). */
function jsonLine(bytes: number, user = 'u1', item = 'i1'): string {
  const head = `{"user_id":"${user}","item_id":"${item}","pad":"`;
  return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
}

describe('a line longer than maxLineBytes names the file, the line and the bound', () => {
  const long = 'y'.repeat(1200);
  const cases: { name: string; rel: string; content: string; format: FileFormat; line: number; label?: string; gzip?: boolean; options?: ReaderOptions }[] = [
    { name: 'sasrec pairs', rel: 'seq.txt', content: `1 1\n1 2\n2 ${'3'.repeat(1200)}\n`, format: 'sasrec', line: 3 },
    { name: 'sasrec lines', rel: 'lines.txt', content: `1 2 3\n2 ${'4 '.repeat(600)}\n`, format: 'sasrec-lines', line: 2 },
    { name: 'csv (fast path)', rel: 'log.csv', content: `user,item,rating,timestamp\na,x,5,1\nb,${long},4,2\n`, format: 'csv', line: 3 },
    { name: 'csv (quoted: csv-parse)', rel: 'quoted.csv', content: `user,item,title\na,x,"Hello, world"\nb,y,"${long}"\n`, format: 'csv', line: 3, options: { columns: { user: 'user', item: 'item', 'item:title': 'title' } } },
    { name: 'tsv', rel: 'log.tsv', content: `user_id\titem_id\nu\ti\nu\t${long}\n`, format: 'tsv', line: 3 },
    { name: 'tsv, long first line', rel: 'first.tsv', content: `${long}\tx\nu\ti\n`, format: 'tsv', line: 1 },
    { name: 'movielens ml-1m ratings.dat', rel: 'ml1m/ratings.dat', content: `1::1::5::1\n2::${'9'.repeat(1200)}::5::1\n`, format: 'ml-1m', line: 2 },
    { name: 'movielens ml-100k u.item (side file)', rel: 'ml100k/u.item', content: `1|A|||x\n2|${long}|||y\n`, format: 'ml-100k', line: 2, label: 'u.item' },
    { name: 'movielens ml-20m movies.csv (side file, csv-parse)', rel: 'ml20m/movies.csv', content: `movieId,title,genres\n1,"A, the",Drama\n2,"${long}",Drama\n`, format: 'ml-20m', line: 3, label: 'movies.csv' },
    { name: 'amazon review JSON', rel: 'amz/reviews.json', content: `{"reviewerID":"A","asin":"B","overall":5,"unixReviewTime":1}\n{"reviewerID":"A","asin":"C","overall":5,"unixReviewTime":2,"reviewText":"${long}"}\n`, format: 'amazon', line: 2 },
    { name: 'amazon ratings CSV', rel: 'amz/ratings.csv', content: `A1,B000000001,5,1\nA2,${long},4,2\n`, format: 'amazon', line: 2 },
    { name: 'jsonl, last line without newline', rel: 'log.jsonl', content: `${jsonLine(100)}\n${jsonLine(1001)}`, format: 'jsonl', line: 2 },
    { name: 'recbole .inter', rel: 'rb/rb.inter', content: `user_id:token\titem_id:token\n1\t2\n1\t${long}\n`, format: 'recbole', line: 3 },
    { name: 'gzip sasrec', rel: 'seqgz.txt.gz', content: `1 1\n1 2\n2 ${'3'.repeat(1200)}\n`, format: 'sasrec', line: 3, gzip: true },
    { name: 'gzip jsonl', rel: 'loggz.jsonl.gz', content: `${jsonLine(100)}\n${jsonLine(100)}\n${jsonLine(1500)}\n`, format: 'jsonl', line: 3, gzip: true },
    { name: 'gzip quoted csv', rel: 'quotedgz.csv.gz', content: `user,item,title\na,x,"Hello, world"\nb,y,"${long}"\n`, format: 'csv', line: 3, gzip: true },
  ];
  fx.file('ml100k/u.data', '1\t1\t5\t10\n2\t2\t4\t20\n');
  fx.file('ml20m/ratings.csv', 'userId,movieId,rating,timestamp\n1,1,5,10\n');
  for (const c of cases) {
    it(c.name, async () => {
      const p = fx.file(c.rel, c.content, { gzip: c.gzip });
      const source = c.label ? join(fx.dir, c.rel.split('/')[0]) : p;
      const e = await dataFailure(() => read(source, c.format, SMALL, c.options));
      const label = c.label ?? c.rel.split('/').pop();
      expect([e.file, e.line]).toEqual([label, c.line]);
      expect(e.message).toMatch(new RegExp(`^${label!.replace(/\./g, '\\.')}:${c.line}: (quoted record|line) longer than 1000 bytes \\(maxLineBytes\\)`));
      expect(e.message).toContain('--max-line-bytes');
    });
  }

  it('amazon metadata (meta file)', async () => {
    const r = fx.file('amzmeta/r.json', '{"reviewerID":"A","asin":"B","overall":5,"unixReviewTime":1}\n');
    const m = fx.file('amzmeta/meta.json', `{"asin":"B","title":"t"}\n{"asin":"C","title":"${'t'.repeat(1200)}"}\n`);
    const e = await dataFailure(() => read(r, 'amazon', SMALL, { meta: m }));
    expect([e.file, e.line]).toEqual(['meta.json', 2]);
    expect(e.message).toContain('(maxLineBytes)');
  });

  it('format detection (auto) reads the first line within the bound', async () => {
    const p = fx.file('detect.txt', `${'0'.repeat(5000)}\n1 2\n`);
    const e = await dataFailure(() => detectFormat(p, SMALL));
    expect([e.file, e.line]).toEqual(['detect.txt', 1]);
    expect(e.message).toContain('line longer than 1000 bytes (maxLineBytes)');
  });

  it('the default bound (4 MiB) stops a file without line breaks', async () => {
    const p = fx.file('noline.txt', Buffer.alloc(5 << 20, '0'));
    const e = await dataFailure(() => readSource(p, 'sasrec'));
    expect(e.message).toBe(`noline.txt:1: line longer than 4 MiB (maxLineBytes): not a text file in this format, or line breaks missing? raise it with --max-line-bytes or maxLineBytes in the data spec if the file is right`);
  });
});

describe('data exactly at the bound reads exactly (no off-by-one)', () => {
  it('fast path: a 1000-byte line reads, 1001 fails; LF, CRLF and no final newline', async () => {
    for (const [eol, last] of [['\n', '\n'], ['\r\n', '\r\n'], ['\n', '']] as const) {
      const ok = fx.file(`exact/ok${eol.length}${last.length}.jsonl`, `${jsonLine(1000, 'u1', 'a')}${eol}${jsonLine(1000, 'u2', 'b')}${last}`);
      const d = await read(ok, 'jsonl');
      expect(pairs(d)).toEqual(['u1:a', 'u2:b']);
      const bad = fx.file(`exact/bad${eol.length}${last.length}.jsonl`, `${jsonLine(1000, 'u1', 'a')}${eol}${jsonLine(1001, 'u2', 'b')}${last}`);
      const e = await dataFailure(() => read(bad, 'jsonl'));
      expect(e.line).toBe(2);
      expect(e.reason).toContain('maxLineBytes');
    }
  });

  it('csv-parse path: a quoted 1000-byte line reads with its field intact, 1001 fails', async () => {
    const row = (n: number): string => {
      const head = 'b,y,"';
      return `${head}${'t'.repeat(n - head.length - 1)}"`;
    };
    const columns = { user: 'user', item: 'item', 'item:title': 'title' };
    const ok = fx.file('exactcsv/ok.csv', `user,item,title\r\na,x,"Hi, there"\r\n${row(1000)}\r\n`);
    const d = await read(ok, 'csv', SMALL, { columns });
    expect(pairs(d)).toEqual(['a:x', 'b:y']);
    expect(d.itemSide?.columns.title).toBeDefined();
    const bad = fx.file('exactcsv/bad.csv', `user,item,title\na,x,"Hi, there"\n${row(1001)}\n`);
    const e = await dataFailure(() => read(bad, 'csv', SMALL, { columns }));
    expect([e.file, e.line]).toEqual(['bad.csv', 3]);
    expect(e.reason).toContain('maxLineBytes');
  });

  it('a line at the bound straddling a chunk boundary, in both tokenizers', async () => {
    // 100-byte filler lines up to about 500 bytes before the first chunk ends, so the long line is carried over.
    const fillerLines = Math.floor((CHUNK_BYTES - 500) / 100);
    const filler = `1${' 1'.repeat(49)}\n`.repeat(fillerLines);
    const seqLine = (n: number): string => `${'2'.repeat(n - 998)}${' 7'.repeat(499)}`;
    const ok = fx.file('straddle/ok.txt', `${filler}${seqLine(1000)}\n3 8\n`);
    const d = await read(ok, 'sasrec-lines');
    expect(d.offsets[d.nUsers]).toBe(fillerLines * 49 + 499 + 1);
    const bad = fx.file('straddle/bad.txt', `${filler}${seqLine(1001)}\n3 8\n`);
    const e = await dataFailure(() => read(bad, 'sasrec-lines'));
    expect([e.file, e.line]).toEqual(['bad.txt', fillerLines + 1]);

    const head = 'user,item,title\na,x,"q"\n';
    const csvFillerLines = Math.floor((CHUNK_BYTES - 500 - head.length) / 100);
    const csvFiller = `a,x,${'t'.repeat(95)}\n`.repeat(csvFillerLines);
    const csvRow = (n: number): string => `b,y,"${'t'.repeat(n - 6)}"`;
    const columns = { user: 'user', item: 'item', 'item:title': 'title' };
    const csvOk = fx.file('straddle/ok.csv', `${head}${csvFiller}${csvRow(1000)}\nc,z,t\n`);
    const dc = await read(csvOk, 'csv', SMALL, { columns });
    expect(dc.offsets[dc.nUsers]).toBe(1 + csvFillerLines + 2);
    const csvBad = fx.file('straddle/bad.csv', `${head}${csvFiller}${csvRow(1001)}\nc,z,t\n`);
    const ec = await dataFailure(() => read(csvBad, 'csv', SMALL, { columns }));
    expect([ec.file, ec.line]).toEqual(['bad.csv', 2 + csvFillerLines + 1]);
  });

  it('a quoted record spanning lines is bounded too (an unclosed quote)', async () => {
    const p = fx.file('unclosed.csv', `user,item,title\na,x,"ok"\nb,y,"never closed\n${'more text\n'.repeat(300)}`);
    const e = await dataFailure(() => read(p, 'csv', SMALL, { columns: { user: 'user', item: 'item', 'item:title': 'title' } }));
    expect(e.file).toBe('unclosed.csv');
    expect(e.line).toBeGreaterThan(3);
    expect(e.reason).toMatch(/^quoted record longer than 1000 bytes \(maxLineBytes\): an unclosed quote\?/);
  });
});

describe('binary data: a NUL byte stops the read at its line', () => {
  it('fast path and csv-parse path', async () => {
    const s = fx.file('nul/seq.txt', '1 1\n1 2\n1 \u00003\n1 4\n');
    const e1 = await dataFailure(() => readSource(s, 'sasrec'));
    expect(e1.message).toBe('seq.txt:3: NUL byte at byte 3 of the line: binary data (or UTF-16 text), not a text file in this format');
    const c = fx.file('nul/log.csv', 'user,item,title\na,x,"q"\nb,y,t\u0000\n');
    const e2 = await dataFailure(() => readSource(c, 'csv', { columns: { user: 'user', item: 'item', 'item:title': 'title' } }));
    expect([e2.file, e2.line]).toEqual(['log.csv', 3]);
    expect(e2.reason).toContain('NUL byte at byte 6');
  });

  it('zeros, plain and gzipped, fail on line 1 in every text format', async () => {
    const plain = fx.file('nul/zeros.bin', Buffer.alloc(3 << 20));
    const gz = fx.file('nul/zeros.gz', Buffer.alloc(8 << 20), { gzip: true });
    for (const format of ['sasrec', 'csv', 'tsv', 'jsonl', 'amazon', 'ml-1m'] as FileFormat[]) {
      for (const p of [plain, gz]) {
        const e = await dataFailure(() => readSource(p, format));
        expect(e.line, `${format} ${p}`).toBe(1);
        expect(e.reason, `${format} ${p}`).toContain('NUL byte at byte 1');
      }
    }
  });

  it('loadDataset refuses a binary file before hashing it (no content hash memoized)', async () => {
    const p = fx.file('nul/probe.txt', Buffer.alloc(1 << 20));
    const cacheDir = join(fx.dir, 'probe-cache');
    const e = await dataFailure(() => loadDataset({ source: p, format: 'sasrec' }, {}, { cacheDir }));
    expect(e.message).toContain('probe.txt:1: NUL byte');
    expect(existsSync(join(cacheDir, 'file-hashes.json'))).toBe(false);
  });
});

describe('decompression is bounded', () => {
  // 24 MiB of valid "1 1" lines in about 24 KB of gzip: a bomb a reader would happily parse.
  const bomb = fx.file('bomb/lines.txt.gz', Buffer.alloc(24 << 20, '1 1\n'), { gzip: true });

  it('gzip past maxDecompressedBytes stops there, naming the bound and the line', async () => {
    const e = await dataFailure(() => read(bomb, 'sasrec', { maxDecompressedBytes: 1 << 20 }));
    expect(e.file).toBe('lines.txt.gz');
    expect(e.line).toBeGreaterThan(1);
    expect(e.line).toBeLessThanOrEqual(((2 << 20) >> 2) + 1);
    expect(e.reason).toBe('gzip data decompresses to more than 1 MiB (maxDecompressedBytes): raise it with --max-decompressed-bytes or maxDecompressedBytes in the data spec if the file is right');
  });

  it('gzip expanding past maxCompressionRatio (default 100) stops after the 16 MiB floor', async () => {
    const e = await dataFailure(() => readSource(bomb, 'sasrec'));
    expect(e.reason).toMatch(/^gzip data expands more than 100 × \(maxCompressionRatio: .* so far\): a decompression bomb\? raise it with --max-compression-ratio/);
    expect(e.line).toBeLessThan(((17 << 20) >> 2) + 2);
  });

  it('small repetitive gzip files stay under the floor and read', async () => {
    const p = fx.file('bomb/small.txt.gz', Buffer.alloc(1 << 20, '1 1\n'), { gzip: true });
    const d = await readSource(p, 'sasrec');
    expect(d.offsets[d.nUsers]).toBe((1 << 20) / 4);
  });

  it('readAllBytes caps gunzip output', () => {
    expect(() => readAllBytes(bomb, { maxDecompressedBytes: 1 << 20 })).toThrow(/lines\.txt\.gz: gzip data decompresses to more than 1 MiB \(maxDecompressedBytes\)/);
    expect(() => readAllBytes(bomb)).toThrow(/lines\.txt\.gz: gzip data expands more than 100 × \(maxCompressionRatio: .* gave over 16 MiB\): a decompression bomb\?/);
  });

  it('Parquet pages past maxDecompressedBytes', async () => {
    const n = 5000;
    const pq = join(fx.dir, 'bomb', 'log.parquet');
    writeFileSync(
      pq,
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'user_id', data: Array.from({ length: n }, (_, k) => `u${k % 50}`), type: 'STRING' },
            { name: 'item_id', data: Array.from({ length: n }, (_, k) => `i${k}`), type: 'STRING' },
          ],
        }),
      ),
    );
    expect(pairs(await readSource(pq, 'parquet')).length).toBe(n);
    const e = await dataFailure(() => read(pq, 'parquet', { maxDecompressedBytes: 1000 }));
    expect([e.file, e.line]).toEqual(['log.parquet', 1]);
    expect(e.reason).toMatch(/Parquet pages decompress to more than 1000 bytes \(maxDecompressedBytes\): raise it with --max-decompressed-bytes/);
  });

  it('zip unpacking (fetch --from): the declared size, then the bytes written', async () => {
    const zip = join(fx.dir, 'bomb', 'ml-100k.zip');
    writeFileSync(zip, zipSync({ 'ml-100k/u.data': Buffer.alloc(24 << 20, '1\t1\t5\t1\n') }));
    const cacheDir = join(fx.dir, 'bomb-cache');
    const declared = await failure(() => fetchDataset('ml-100k', { from: zip, cacheDir, allowMismatch: true, limits: { maxDecompressedBytes: 1 << 20 } }));
    expect(declared.message).toBe('ml-100k.zip: unpacks to more than 1 MiB (maxDecompressedBytes): raise it with --max-decompressed-bytes or maxDecompressedBytes in the data spec if the file is right');
    const streamed = await failure(() => fetchDataset('ml-100k', { from: zip, cacheDir, allowMismatch: true }));
    expect(streamed.message).toMatch(/^ml-100k\.zip: expands more than 100 × \(maxCompressionRatio\): a zip bomb\?/);
  });
});

describe('file-system errors say what happened', () => {
  const loop = join(fx.dir, 'loop-a');
  symlinkSync(join(fx.dir, 'loop-b'), loop);
  symlinkSync(loop, join(fx.dir, 'loop-b'));
  const dangling = join(fx.dir, 'dangling');
  symlinkSync(join(fx.dir, 'gone.txt'), dangling);

  it('a symlink loop is ELOOP, not "no such file", wherever it is met', async () => {
    for (const run of [() => readSource(loop, 'sasrec'), () => detectFormat(loop), () => loadDataset({ source: loop }, {}, { cacheDir: false }), () => loadDataset({ source: loop, format: 'ml-1m' }, {}, { cacheDir: false })]) {
      const e = await dataFailure(run);
      expect(e.message).toBe(`${loop}: too many levels of symbolic links: a symlink loop? (ELOOP)`);
    }
    const fetched = await failure(() => fetchDataset('ml-100k', { from: loop, cacheDir: join(fx.dir, 'loop-cache') }));
    expect(fetched.message).toBe(`--from ${loop}: too many levels of symbolic links: a symlink loop? (ELOOP)`);
  });

  it('a side file that is a symlink loop is an error, not silently skipped', async () => {
    fx.file('loopside/ratings.dat', '1::1::5::1\n');
    symlinkSync(loop, join(fx.dir, 'loopside', 'movies.dat'));
    const e = await dataFailure(() => readSource(join(fx.dir, 'loopside'), 'ml-1m'));
    expect(e.message).toContain('movies.dat: too many levels of symbolic links');
  });

  it('a dangling link names its missing target', async () => {
    const e = await dataFailure(() => loadDataset({ source: dangling }, {}, { cacheDir: false }));
    expect(e.message).toBe(`${dangling}: is a symbolic link to ${JSON.stringify(join(fx.dir, 'gone.txt'))}, which does not exist`);
  });
});

describe('limits: values and the CLI', () => {
  it('bad limit values fail before reading; byte counts parse with units', async () => {
    const p = fx.file('lim/seq.txt', '1 1\n');
    const e = await dataFailure(() => loadDataset({ source: p, maxLineBytes: -5 }, {}, { cacheDir: false }));
    expect(e.message).toBe('maxLineBytes: expected a positive integer (bytes), got -5');
    expect([parseBytes('1000'), parseBytes('64k'), parseBytes('4MiB'), parseBytes('16 GB'), parseBytes('1.5KiB')]).toEqual([1000, 65536, 4 << 20, 16 * 2 ** 30, 1536]);
    expect(() => parseBytes('lots')).toThrow(/expected a byte count/);
  });

  it('reclab data describe --max-line-bytes', () => {
    const p = fx.file('cli/seq.txt', `1 1\n1 2\n2 ${'3 '.repeat(600)}\n`);
    const run = (bound: string) =>
      spawnSync(process.execPath, [join(root, 'bin', 'reclab.js'), 'data', 'describe', p, '--format', 'sasrec-lines', '--no-cache', '--max-line-bytes', bound], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    const bad = run('1000');
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('reclab: seq.txt:3: line longer than 1000 bytes (maxLineBytes): not a text file in this format, or line breaks missing? raise it with --max-line-bytes or maxLineBytes in the data spec if the file is right');
    const good = run('2KiB');
    expect(good.status, good.stderr).toBe(0);
  });
});
