/**
 * Bad input gets file, line and field in the error (must-show 4): truncated lines, non-numeric
 * ids, wrong separators, empty files, gzip cut short; and a property test that feeds random
 * garbage to every reader, which must either read it or throw a clean DataError.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { readSource } from '../../src/data/readers/index.ts';
import type { FileFormat } from '../../src/data/readers/index.ts';
import { DataError } from '../../src/data/errors.ts';
import { loadDataset } from '../../src/data/load.ts';
import { scratch } from './fixtures.ts';

const fx = scratch('reclab-errors-');

async function failure(run: () => Promise<unknown>): Promise<DataError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DataError) return error;
    throw new Error(`expected a DataError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
  }
  throw new Error('expected a DataError, but the read succeeded');
}

describe('errors name the file, the line and the field', () => {
  it('truncated line (ml-100k u.data)', async () => {
    const p = fx.file('trunc/u.data', '1\t10\t5\t881250949\n2\t20\t4\t881250950\n3\t30\n');
    const e = await failure(() => readSource(p, 'ml-100k'));
    expect([e.file, e.line, e.field]).toEqual(['u.data', 3, 'rating']);
    expect(e.message).toMatch(/^u\.data:3: field "rating": missing: expected 4 fields/);
    expect(e.message).toMatch(/truncated line\?/);
  });

  it('non-numeric ids (SASRec, ml-1m) and non-numeric ratings/timestamps', async () => {
    const s = fx.file('ids/seq.txt', '1 5\n1 6\nx7 8\n');
    const e1 = await failure(() => readSource(s, 'sasrec'));
    expect([e1.file, e1.line, e1.field]).toEqual(['seq.txt', 3, 'user']);
    expect(e1.message).toContain('expected a non-negative integer id, got "x7"');
    const lines = fx.file('ids/lines.txt', '1 5 6\n2 3 abc 4\n');
    const e2 = await failure(() => readSource(lines, 'sasrec-lines'));
    expect([e2.line, e2.field]).toEqual([2, 'item #2']);
    const r = fx.file('ids/ratings.dat', '1::10::5::978300760\n2::10::five::978300761\n');
    const e3 = await failure(() => readSource(r, 'ml-1m'));
    expect([e3.file, e3.line, e3.field]).toEqual(['ratings.dat', 2, 'Rating']);
    expect(e3.message).toContain('expected a number, got "five"');
    const c = fx.file('ids/log.csv', 'user,item,timestamp\na,b,100\na,c,yesterday\n');
    const e4 = await failure(() => readSource(c, 'csv'));
    expect([e4.file, e4.line, e4.field]).toEqual(['log.csv', 3, 'timestamp']);
  });

  it('wrong separators', async () => {
    const r = fx.file('sep/ratings.dat', '1,10,5,978300760\n');
    const e = await failure(() => readSource(r, 'ml-1m'));
    expect([e.file, e.line, e.field]).toEqual(['ratings.dat', 1, 'MovieID']);
    expect(e.message).toMatch(/separated by "::", found 1 — is the separator right\?/);
    const t = fx.file('sep/u.data', '1;10;5;881250949\n');
    const e2 = await failure(() => readSource(t, 'ml-100k'));
    expect(e2.message).toMatch(/is the separator right/);
    const c = fx.file('sep/log.csv', 'user;item;rating\na;b;5\n');
    const e3 = await failure(() => readSource(c, 'csv', { header: true }));
    expect(e3.field).toBe('user');
  });

  it('empty files', async () => {
    const formats: [string, FileFormat][] = [
      ['empty/u.data', 'ml-100k'],
      ['empty/ratings.dat', 'ml-1m'],
      ['empty/ratings.csv', 'ml-20m'],
      ['empty/e.txt', 'sasrec'],
      ['empty/e2.txt', 'sasrec-lines'],
      ['empty/e.inter', 'recbole'],
      ['empty/e.csv', 'csv'],
      ['empty/e.tsv', 'tsv'],
      ['empty/e.jsonl', 'jsonl'],
      ['empty/e.parquet', 'parquet'],
      ['empty/a.csv', 'amazon'],
      ['empty/a.json', 'amazon'],
    ];
    for (const [rel, format] of formats) {
      const p = fx.file(rel, '');
      const e = await failure(() => readSource(p, format));
      expect(e.file).toBe(rel.split('/')[1]);
      expect(e.message).toMatch(/empty|no interactions|not a readable Parquet/);
    }
    const blank = fx.file('empty/blank.txt', '\n\n  \n');
    await expect(loadDataset({ source: blank, format: 'sasrec' }, {}, { cacheDir: false })).rejects.toThrow(/no interactions found/);
    await expect(loadDataset({ source: blank }, {}, { cacheDir: false })).rejects.toThrow(/empty file/);
  });

  it('a gzip file cut short', async () => {
    const lines = Array.from({ length: 20000 }, (_, k) => `${(k % 97) + 1} ${(k * 7919) % 1000}`).join('\n');
    const full = gzipSync(Buffer.from(lines));
    const p = fx.file('gz/seq.txt.gz', full.subarray(0, Math.floor(full.length * 0.6)));
    const e = await failure(() => readSource(p, 'sasrec'));
    expect(e.file).toBe('seq.txt.gz');
    expect(e.line).toBeGreaterThan(1);
    expect(e.message).toMatch(/gzip data is corrupt or cut short after line \d+/);
    const j = fx.file('gz/r.json.gz', gzipSync(Buffer.from('{"reviewerID":"A","asin":"B","overall":5,"unixReviewTime":1}\n'.repeat(3000))).subarray(0, 200));
    const e2 = await failure(() => readSource(j, 'amazon'));
    expect(e2.message).toMatch(/gzip/);
  });

  it('invalid JSON lines and missing keys', async () => {
    const j = fx.file('json/log.jsonl', '{"user":"a","item":"b"}\n{"user":"a","item":\n');
    const e = await failure(() => readSource(j, 'jsonl'));
    expect([e.file, e.line]).toEqual(['log.jsonl', 2]);
    expect(e.message).toMatch(/invalid JSON/);
    const k = fx.file('json/r.json', '{"reviewerID":"A","asin":"B","overall":5,"unixReviewTime":1}\n{"reviewerID":"A","overall":5,"unixReviewTime":2}\n');
    const e2 = await failure(() => readSource(k, 'amazon'));
    expect([e2.line, e2.field]).toEqual([2, 'asin']);
  });
});

/** Every reader, with a file name that suits it. */
const READERS: [FileFormat, string][] = [
  ['ml-100k', 'u.data'],
  ['ml-1m', 'ratings.dat'],
  ['ml-20m', 'ratings.csv'],
  ['sasrec', 'seq.txt'],
  ['sasrec-lines', 'lines.txt'],
  ['recbole', 'g.inter'],
  ['amazon', 'ratings.csv'],
  ['amazon', 'reviews.json'],
  ['csv', 'log.csv'],
  ['tsv', 'log.tsv'],
  ['jsonl', 'log.jsonl'],
  ['parquet', 'log.parquet'],
];

/** Text that looks a bit like data: digits, ids, separators, quotes, braces, newlines. */
const dataish = fc
  .array(
    fc.oneof(
      fc.constantFrom('\n', '\t', ',', '::', ' ', '|', '"', "'", '{', '}', '[', ']', ':', '\r\n', '.', '-', 'e', '\\'),
      fc.integer({ min: 0, max: 99999 }).map(String),
      fc.constantFrom('user_id', 'item_id:token', 'rating', 'timestamp', 'userId,movieId,rating,timestamp', '"reviewerID"', '"asin"', 'B00ABCDEF1', 'null', 'true', 'PAR1'),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 120 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'utf8'));

const bytes = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));
const gzipped = fc.oneof(dataish, bytes).chain((b) => fc.nat({ max: 200 }).map((cut) => { const z = gzipSync(b); return z.subarray(0, Math.max(2, z.length - cut)); }));

describe('property: random garbage never crashes a reader', () => {
  let counter = 0;
  it.each(READERS)('%s (%s)', async (format, name) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(dataish, bytes, gzipped), async (content) => {
        const path = fx.file(`fuzz/${counter++}/${name}`, content);
        try {
          const d = await readSource(path, format);
          // A successful read must give a consistent dataset.
          expect(d.offsets[0]).toBe(0);
          expect(d.offsets[d.nUsers]).toBe(d.items.length);
          for (let p = 0; p < d.items.length; p++) if (d.items[p] < 0 || d.items[p] >= d.nItems) throw new Error('item out of range');
        } catch (error) {
          if (!(error instanceof DataError)) throw error;
          expect(error.file.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 120, seed: 20261122 },
    );
  });
});
