/**
 * `reclab data fetch ml-100k --from u.data` (issue 17): the data file of a zipped dataset is taken
 * as that file — the catalog's SHA-256 is the zip's, so checking the file against it could only
 * fail — while a file named .zip is still checked.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../src/data/load.ts';
import { fetchDataset, FetchError } from '../../src/data/registry.ts';
import { scratch } from './fixtures.ts';

const fx = scratch('reclab-fetch-file-');
// Four ratings in ml-100k's u.data layout: user, item, rating, timestamp (tab-separated).
const U_DATA = '1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250951\n3\t30\t1\t881250952\n';

describe('fetch --from <data file> of a zipped dataset', () => {
  it('takes u.data as the dataset (its own SHA-256 stored as local-file) and loads it by name', async () => {
    const file = fx.file('dl/u.data', U_DATA);
    fx.file('dl/u.item', '10|Alpha (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n');
    const cacheDir = join(fx.dir, 'cache1');
    const lines: string[] = [];
    const { dir, record } = await fetchDataset('ml-100k', { from: file, cacheDir, log: (l) => lines.push(l) });
    expect(record.check).toBe('local-file');
    expect(record.origin).toBe('local');
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(dir, 'u.data'), 'utf8')).toBe(U_DATA);
    expect(readFileSync(join(dir, 'u.item'), 'utf8')).toMatch(/^10\|Alpha/); // a sibling the catalog knows comes along
    expect(lines.join('\n')).toMatch(/cannot be checked against the SHA-256 of ml-100k\.zip/);
    const d = await loadDataset({ source: 'ml-100k' }, {}, { cacheDir });
    expect([d.nUsers, d.nItems, d.offsets[d.nUsers]]).toEqual([3, 3, 4]);
  });

  it('a data file under another name becomes the main file', async () => {
    const file = fx.file('other/ratings-copy.tsv', U_DATA);
    const { dir } = await fetchDataset('ml-100k', { from: file, cacheDir: join(fx.dir, 'cache2') });
    expect(readFileSync(join(dir, 'u.data'), 'utf8')).toBe(U_DATA);
  });

  it('a file named .zip that is not the published archive is still refused by its SHA-256', async () => {
    const file = fx.file('bad/ml-100k.zip', 'not a zip at all');
    await expect(fetchDataset('ml-100k', { from: file, cacheDir: join(fx.dir, 'cache3') })).rejects.toThrow(FetchError);
    await expect(fetchDataset('ml-100k', { from: file, cacheDir: join(fx.dir, 'cache3') })).rejects.toThrow(/SHA-256 mismatch/);
  });
});

describe('the developers\' mirror of the benchmark files', () => {
  it('a benchmark dataset not fetched is read from $RECLAB_DATASETS_MIRROR; without a mirror the error gives the fetch command', async () => {
    const mirror = join(fx.dir, 'mirror');
    fx.file('mirror/beauty-s3rec/Beauty.txt', '1 1 2 3\n2 2 3\n'); // one user per line: user item item …
    const cacheDir = join(fx.dir, 'cache-mirror');
    const before = process.env.RECLAB_DATASETS_MIRROR;
    try {
      process.env.RECLAB_DATASETS_MIRROR = mirror;
      const d = await loadDataset({ source: 'beauty-s3rec' }, {}, { cacheDir });
      expect([d.nUsers, d.nItems, d.offsets[d.nUsers]]).toEqual([2, 3, 5]);
      process.env.RECLAB_DATASETS_MIRROR = join(fx.dir, 'no-mirror-here');
      await expect(loadDataset({ source: 'beauty-s3rec' }, {}, { cacheDir })).rejects.toThrow(/reclab data fetch beauty-s3rec/);
    } finally {
      if (before === undefined) delete process.env.RECLAB_DATASETS_MIRROR;
      else process.env.RECLAB_DATASETS_MIRROR = before;
    }
  });
});
