import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { loadDatasetWithInfo, loadDataset } from '../../src/data/load.ts';
import { cachePath } from '../../src/data/cache.ts';
import { fetchDataset, fetchedRecord, FetchError, CATALOG } from '../../src/data/registry.ts';
import { scratch, pairs } from './fixtures.ts';
import { datasetPath, hasDataset } from '../shared.ts';

const fx = scratch();

describe('binary cache of prepared datasets', () => {
  it('a second load comes from the cache with identical arrays, ids and side tables', async () => {
    const cacheDir = join(fx.dir, 'cache1');
    const path = fx.file('c/log.csv', 'user,item,rating,timestamp,title\nu1,a,5,10,Alpha\nu1,b,3,20,Beta\nu2,a,4,15,Alpha\nu2,c,2,5,Gamma\nu3,a,1,1,Alpha\n');
    const spec = { source: path, columns: { user: 'user', item: 'item', rating: 'rating', timestamp: 'timestamp', 'item:title': 'title' } };
    const first = await loadDatasetWithInfo(spec, { kCore: { user: 2, item: 1 } }, { cacheDir });
    expect(first.info.fromCache).toBe(false);
    expect(existsSync(cachePath(cacheDir, first.dataset.fingerprint))).toBe(true);
    const second = await loadDatasetWithInfo(spec, { kCore: { user: 2, item: 1 } }, { cacheDir });
    expect(second.info.fromCache).toBe(true);
    const a = first.dataset;
    const b = second.dataset;
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(pairs(b)).toEqual(pairs(a));
    expect(Array.from(b.times)).toEqual(Array.from(a.times));
    expect(Array.from(b.values!)).toEqual(Array.from(a.values!));
    expect(b.provenance).toEqual(a.provenance);
    expect(b.itemSide).toEqual(a.itemSide);
    expect(b.hasTime).toBe(true);
  });

  it('the key changes with preparation options and with the file content', async () => {
    const cacheDir = join(fx.dir, 'cache2');
    const path = fx.file('k/pairs.txt', '1 5\n1 3\n2 5\n2 3\n');
    const a = await loadDataset({ source: path }, {}, { cacheDir });
    const b = await loadDataset({ source: path }, { kCore: 2 }, { cacheDir });
    expect(a.fingerprint).not.toBe(b.fingerprint);
    writeFileSync(path, '1 5\n1 3\n2 5\n2 9\n');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    const c = await loadDatasetWithInfo({ source: path }, {}, { cacheDir });
    expect(c.info.fromCache).toBe(false);
    expect(c.dataset.fingerprint).not.toBe(a.fingerprint);
    expect(c.dataset.itemIds.toArray()).toEqual(['3', '5', '9']);
  });
});

describe('registry and fetch', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('knows the MovieLens zips with SHA-256 sums (ml-32m and Amazon are marked unverified)', () => {
    expect(CATALOG['ml-1m'].sha256).toBe('a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20');
    expect(CATALOG['ml-100k'].url).toBe('https://files.grouplens.org/datasets/movielens/ml-100k.zip');
    expect(CATALOG['ml-32m'].sha256).toBeNull();
    expect(CATALOG['amazon-beauty'].format).toBe('amazon');
  });

  it('without network it fails at once and says how to use --from', async () => {
    vi.stubGlobal('fetch', async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } });
    });
    const t0 = Date.now();
    const err = await fetchDataset('ml-1m', { cacheDir: join(fx.dir, 'offline') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as Error).message).toMatch(/ENOTFOUND/);
    expect((err as Error).message).toMatch(/reclab data fetch ml-1m --from <path to ml-1m\.zip or its unpacked ml-1m\/ folder>/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(join(fx.dir, 'offline', 'datasets', 'ml-1m'))).toBe(false);
  });

  it('--from a zip: checks the SHA-256 (mismatch refused unless allowed), unpacks with fflate', async () => {
    const zip = join(fx.dir, 'ml-100k.zip');
    writeFileSync(zip, zipSync({ 'ml-100k/u.data': strToU8('1\t1\t5\t100\n1\t2\t3\t200\n2\t1\t4\t150\n'), 'ml-100k/u.item': strToU8('1|A|||x\n2|B|||y\n'), 'ml-100k/ua.base': strToU8('ignored') }));
    const cacheDir = join(fx.dir, 'zipcache');
    await expect(fetchDataset('ml-100k', { from: zip, cacheDir })).rejects.toThrow(/SHA-256 mismatch/);
    const { dir, record } = await fetchDataset('ml-100k', { from: zip, cacheDir, allowMismatch: true });
    expect(record.check).toBe('unverified');
    expect(existsSync(join(dir, 'u.data'))).toBe(true);
    expect(existsSync(join(dir, 'ua.base'))).toBe(false);
    const d = await loadDataset({ source: 'ml-100k' }, {}, { cacheDir });
    expect(pairs(d)).toEqual(['1:1', '1:2', '2:1']);
    // Cached now: a second fetch does nothing.
    expect((await fetchDataset('ml-100k', { cacheDir })).cached).toBe(true);
  });

  it('--from a file for an entry without a published sum stores the computed sum as unverified', async () => {
    const file = fx.file('amz/reviews_Beauty_5.json.gz', '{"reviewerID": "A1", "asin": "B1", "overall": 5, "unixReviewTime": 1}\n', { gzip: true });
    const cacheDir = join(fx.dir, 'amzcache');
    const { record } = await fetchDataset('amazon-beauty', { from: file, cacheDir });
    expect(record.check).toBe('unverified');
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(readFileSync(join(cacheDir, 'datasets', 'amazon-beauty', '.reclab-fetch.json'), 'utf8')).sha256).toBe(record.sha256);
    const d = await loadDataset({ source: 'amazon-beauty' }, {}, { cacheDir });
    expect(pairs(d)).toEqual(['A1:B1']);
  });

  it('a registry name that was not fetched gives the fetch command', async () => {
    await expect(loadDataset({ source: 'ml-20m' }, {}, { cacheDir: join(fx.dir, 'empty') })).rejects.toThrow(/reclab data fetch ml-20m/);
  });

  it.skipIf(!hasDataset('ml-100k/u.data'))('--from the unpacked shared ml-100k folder, then load by name: 943 / 1682 / 100000', async () => {
    const cacheDir = join(fx.dir, 'sharedcache');
    const { record } = await fetchDataset('ml-100k', { from: datasetPath('ml-100k'), cacheDir });
    expect(record.check).toBe('local-folder');
    expect(fetchedRecord('ml-100k', cacheDir)?.origin).toBe('local');
    const d = await loadDataset({ source: 'ml-100k' }, {}, { cacheDir });
    expect([d.nUsers, d.nItems, d.offsets[d.nUsers]]).toEqual([943, 1682, 100000]);
    expect(d.itemSide?.columns.title).toBeDefined();
  });
});
