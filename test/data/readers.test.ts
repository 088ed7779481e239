import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readSource, detectFormat } from '../../src/data/readers/index.ts';
import { loadDataset } from '../../src/data/load.ts';
import { describeDataset } from '../../src/data/stats.ts';
import type { Dataset, SideColumn } from '../../src/data/types.ts';
import { scratch, pairs } from './fixtures.ts';
import { datasetPath, hasDataset } from '../shared.ts';

const fx = scratch();
const GENRES = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];

function text(col: SideColumn | undefined, row: number): string | null {
  if (!col) return null;
  if (col.type === 'text') return col.values[row];
  if (col.type === 'token') return col.values[row] < 0 ? null : col.vocab.toRaw(col.values[row]);
  if (col.type === 'token_seq') return Array.from(col.values.subarray(col.offsets[row], col.offsets[row + 1]), (t) => col.vocab.toRaw(t)).join('|');
  if (col.type === 'float') return String(col.values[row]);
  return Array.from(col.values.subarray(col.offsets[row], col.offsets[row + 1])).join(' ');
}

function itemRow(d: Dataset, raw: string): number {
  const id = d.itemIds.get(raw);
  if (id === undefined) throw new Error(`no item ${raw}`);
  return id;
}

describe('MovieLens readers', () => {
  const ml100k = join(fx.dir, 'ml-100k');
  fx.file('ml-100k/u.data', '3\t20\t4\t881250950\n1\t10\t5\t881250949\n1\t30\t3\t881250949\n2\t10\t2\t881250000\n1\t20\t1\t881200000\n');
  const flags = (k: number): string => GENRES.map((_, g) => (g === k ? '1' : '0')).join('|');
  fx.file('ml-100k/u.item', `10|Caf\u00e9 Noir (1995)|01-Jan-1995||http://x|${flags(1)}\n20|B (1996)|01-Jan-1996||http://y|${flags(8)}\n30|C (1997)|||http://z|${flags(0)}\n`, { latin1: true });
  fx.file('ml-100k/u.user', '1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n');
  fx.file('ml-100k/u.genre', GENRES.map((g, k) => `${g}|${k}`).join('\n') + '\n\n');

  it('ml-100k: ids in raw order, each user in time order with file order for ties, side tables', async () => {
    const d = await readSource(ml100k, 'ml-100k');
    expect(d.nUsers).toBe(3);
    expect(d.nItems).toBe(3);
    expect(d.userIds.toArray()).toEqual(['1', '2', '3']);
    expect(pairs(d)).toEqual(['1:20', '1:10', '1:30', '2:10', '3:20']);
    expect(Array.from(d.values!)).toEqual([1, 5, 3, 2, 4]);
    expect(d.hasTime).toBe(true);
    expect(text(d.itemSide!.columns.title, itemRow(d, '10'))).toBe('Café Noir (1995)');
    expect(text(d.itemSide!.columns.genres, itemRow(d, '20'))).toBe('Drama');
    expect(text(d.userSide!.columns.occupation, 2)).toBe('writer');
    expect(text(d.userSide!.columns.age, 1)).toBe('53');
    // The folder and u.data itself give the same data; auto-detection finds both.
    expect(await detectFormat(ml100k)).toBe('ml-100k');
    expect(await detectFormat(join(ml100k, 'u.data'))).toBe('ml-100k');
    expect(pairs(await readSource(join(ml100k, 'u.data'), 'ml-100k'))).toEqual(pairs(d));
  });

  it('ml-1m: "::" separators, ISO-8859-1 titles with colons, user demographics', async () => {
    const dir = join(fx.dir, 'ml-1m');
    fx.file('ml-1m/ratings.dat', '1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n');
    fx.file('ml-1m/movies.dat', "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::Les Mis\u00e9rables: Part 1 (1995)::Drama|War\n", { latin1: true });
    fx.file('ml-1m/users.dat', '1::F::1::10::48067\n2::M::56::16::70072\n');
    const d = await readSource(dir, 'ml-1m');
    expect(await detectFormat(dir)).toBe('ml-1m');
    expect(pairs(d)).toEqual(['1:1193', '1:661', '2:1193']);
    expect(text(d.itemSide!.columns.title, itemRow(d, '661'))).toBe('Les Misérables: Part 1 (1995)');
    expect(text(d.itemSide!.columns.genres, itemRow(d, '661'))).toBe('Drama|War');
    expect(text(d.userSide!.columns.gender, 1)).toBe('M');
  });

  it('ml-20m family: ratings.csv, quoted movies.csv, links.csv', async () => {
    const dir = join(fx.dir, 'ml-25m');
    fx.file('ml-25m/ratings.csv', 'userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n2,296,4.0,1147868828\n');
    fx.file('ml-25m/movies.csv', 'movieId,title,genres\n296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n306,"American President, The (1995)",(no genres listed)\n');
    fx.file('ml-25m/links.csv', 'movieId,imdbId,tmdbId\n296,0110912,680\n306,0112346,\n');
    const d = await readSource(dir, 'ml-20m');
    expect(pairs(d)).toEqual(['1:306', '1:296', '2:296']);
    expect(Array.from(d.values!)).toEqual([3.5, 5, 4]);
    expect(text(d.itemSide!.columns.title, itemRow(d, '306'))).toBe('American President, The (1995)');
    expect(text(d.itemSide!.columns.genres, itemRow(d, '306'))).toBe('');
    expect(text(d.itemSide!.columns.imdbId, itemRow(d, '296'))).toBe('0110912');
  });
});

describe('SASRec files', () => {
  it('pairs: time = file order, ids numeric, detected automatically', async () => {
    const path = fx.file('pairs.txt', '1 5\n1 3\n2 5\n1 9\n10 3\n');
    expect(await detectFormat(path)).toBe('sasrec');
    const d = await readSource(path, 'sasrec');
    expect(d.provenance.format).toBe('sasrec');
    expect(d.hasTime).toBe(false);
    expect(d.userIds.toArray()).toEqual(['1', '2', '10']);
    expect(d.itemIds.toArray()).toEqual(['3', '5', '9']);
    expect(pairs(d)).toEqual(['1:5', '1:3', '1:9', '2:5', '10:3']);
  });

  it('one user per line (S3-Rec Beauty.txt layout), also under --format sasrec', async () => {
    const path = fx.file('lines.txt', '1 5 3 9\n2 3\n3 9 5\n', { gzip: false });
    const a = await readSource(path, 'sasrec-lines');
    const b = await readSource(path, 'sasrec');
    expect(a.provenance.format).toBe('sasrec-lines');
    expect(pairs(a)).toEqual(['1:5', '1:3', '1:9', '2:3', '3:9', '3:5']);
    expect(pairs(b)).toEqual(pairs(a));
  });

  it('one user per line with 9,000 events on a line (ML-20M users reach that; a 4,096-field cap refused them)', async () => {
    const items = Array.from({ length: 9000 }, (_, k) => k + 1);
    const path = fx.file('long-lines.txt', `7 ${items.join(' ')}\n8 3 2\n`, { gzip: false });
    const d = await readSource(path, 'sasrec-lines');
    const p = pairs(d);
    expect(p.length).toBe(9002);
    expect(p.slice(0, 2)).toEqual(['7:1', '7:2']);
    expect(p[8999]).toBe('7:9000');
    expect(p.slice(9000)).toEqual(['8:3', '8:2']);
  });

  it('reads gzip transparently, whatever the name', async () => {
    const path = fx.file('pairs-gz.txt', '1 5\n1 3\n2 5\n', { gzip: true });
    expect(pairs(await readSource(path, 'sasrec'))).toEqual(['1:5', '1:3', '2:5']);
  });
});

describe('RecBole atomic files', () => {
  it('reads .inter with name:type headers and typed .item side columns', async () => {
    fx.file('rb/rb.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\t4\t100\nu1\ti2\t5\t50\nu2\ti1\t3\t70\n');
    fx.file('rb/rb.item', 'item_id:token\ttitle:token_seq\tprice:float\tgenre:token\tvec:float_seq\ni1\tred shoe\t9.5\tfashion\t0.5 1.5\ni2\tblue hat\t3\thats\t2 3\n');
    const d = await readSource(join(fx.dir, 'rb'), 'recbole');
    expect(await detectFormat(join(fx.dir, 'rb'))).toBe('recbole');
    expect(pairs(d)).toEqual(['u1:i2', 'u1:i1', 'u2:i1']);
    expect(text(d.itemSide!.columns.title, itemRow(d, 'i1'))).toBe('red|shoe');
    expect(text(d.itemSide!.columns.price, itemRow(d, 'i1'))).toBe('9.5');
    expect(text(d.itemSide!.columns.genre, itemRow(d, 'i2'))).toBe('hats');
    expect(text(d.itemSide!.columns.vec, itemRow(d, 'i2'))).toBe('2 3');
  });
});

describe('Amazon dumps', () => {
  it('2014 ratings CSV (user,item,…) and 2018 (item,user,…) are told apart by ASIN-like ids', async () => {
    const a = fx.file('ratings_Beauty.csv', 'A39HTATAQ9V7YF,0205616461,5.0,1369699200\nA3JM6GV9MNOF9X,0558925278,3.0,1355443200\nA39HTATAQ9V7YF,B00ABCDEF1,4.0,1369000000\n');
    const b = fx.file('Beauty.csv', '0205616461,A39HTATAQ9V7YF,5.0,1369699200\n0558925278,A3JM6GV9MNOF9X,3.0,1355443200\nB00ABCDEF1,A39HTATAQ9V7YF,4.0,1369000000\n');
    expect(await detectFormat(a)).toBe('amazon');
    const da = await readSource(a, 'amazon');
    const db = await readSource(b, 'amazon');
    expect(pairs(da)).toEqual(['A39HTATAQ9V7YF:B00ABCDEF1', 'A39HTATAQ9V7YF:0205616461', 'A3JM6GV9MNOF9X:0558925278']);
    expect(pairs(db)).toEqual(pairs(da));
  });

  it('2023 CSV with header, milliseconds', async () => {
    const p = fx.file('Beauty_2023.csv', 'user_id,parent_asin,rating,timestamp\nAG1,B01P,5.0,1588687728923\nAG1,B02P,4.0,1588687720000\n');
    const d = await readSource(p, 'amazon');
    expect(pairs(d)).toEqual(['AG1:B02P', 'AG1:B01P']);
    expect(d.times[1]).toBeCloseTo(1588687728.923, 3);
  });

  it('2014 JSON (gzip) with Python-literal metadata; 2023 JSONL with parent_asin', async () => {
    const reviews = fx.file(
      'reviews_Beauty_5.json.gz',
      '{"reviewerID": "A2", "asin": "B00X", "overall": 4.0, "unixReviewTime": 1391040000, "reviewText": "ok"}\n{"reviewerID": "A1", "asin": "B00Y", "overall": 5.0, "reviewTime": "01 30, 2014"}\n',
      { gzip: true },
    );
    const meta = fx.file('meta_Beauty.json', `{'asin': 'B00X', 'title': "L'Oreal \\'Paris\\'", 'categories': [['Beauty', 'Makeup'], ['Beauty']], 'brand': 'LOreal', 'price': 9.5, 'x': None, 'y': True}\n`);
    expect(await detectFormat(reviews)).toBe('amazon');
    const d = await loadDataset({ source: reviews, format: 'amazon', meta }, {}, { cacheDir: false });
    expect(pairs(d)).toEqual(['A1:B00Y', 'A2:B00X']);
    expect(d.times[0]).toBe(Date.UTC(2014, 0, 30) / 1000);
    expect(text(d.itemSide!.columns.title, itemRow(d, 'B00X'))).toBe("L'Oreal 'Paris'");
    expect(text(d.itemSide!.columns.categories, itemRow(d, 'B00X'))).toBe('Beauty|Makeup');
    const j = fx.file('Beauty_2023.jsonl', '{"rating": 5.0, "asin": "B01", "parent_asin": "B01P", "user_id": "AG", "timestamp": 1588687728923}\n');
    expect(pairs(await readSource(j, 'amazon'))).toEqual(['AG:B01P']);
    expect(pairs(await readSource(j, 'amazon', { item: 'asin' }))).toEqual(['AG:B01']);
  });
});

describe('generic logs with a column mapping', () => {
  it('CSV with named columns, ISO dates, quoted side column (csv-parse fallback)', async () => {
    const p = fx.file('log.csv', 'uid,iid,stars,when,name\nu2,x,4,2021-03-04T05:06:07Z,"Thing, big"\nu1,y,5,2021-03-01,Other\nu1,x,3,2021-02-01,"Thing, big"\n');
    const d = await loadDataset({ source: p, format: 'csv', columns: { user: 'uid', item: 'iid', rating: 'stars', timestamp: 'when', 'item:title': 'name' } }, {}, { cacheDir: false });
    expect(pairs(d)).toEqual(['u1:x', 'u1:y', 'u2:x']);
    expect(d.times[2]).toBe(Date.parse('2021-03-04T05:06:07Z') / 1000);
    expect(text(d.itemSide!.columns.title, itemRow(d, 'x'))).toBe('Thing, big');
  });

  it('CSV without header: user,item[,rating[,timestamp]]; TSV with recognised names', async () => {
    const p = fx.file('nohead.csv', 'a,1,5,10\nb,1,4,5\na,2,3,1\n');
    const d = await loadDataset({ source: p, format: 'csv', header: false }, {}, { cacheDir: false });
    expect(pairs(d)).toEqual(['a:2', 'a:1', 'b:1']);
    const t = fx.file('log.tsv', 'session_id\titem_id\ttimestamp\ns1\t7\t3\ns1\t8\t1\n');
    expect(await detectFormat(t)).toBe('tsv');
    const dt = await readSource(t, 'tsv');
    expect(pairs(dt)).toEqual(['s1:8', 's1:7']);
    expect(dt.values).toBeUndefined();
  });

  it('JSON Lines and Parquet with the same mapping give the same dataset', async () => {
    const rows = [
      { user_id: 'u1', item_id: 'a', rating: 4, timestamp: 30 },
      { user_id: 'u2', item_id: 'b', rating: 5, timestamp: 10 },
      { user_id: 'u1', item_id: 'b', rating: 2, timestamp: 20 },
    ];
    const j = fx.file('log.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const pq = join(fx.dir, 'log.parquet');
    writeFileSync(
      pq,
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'user_id', data: rows.map((r) => r.user_id), type: 'STRING' },
            { name: 'item_id', data: rows.map((r) => r.item_id), type: 'STRING' },
            { name: 'rating', data: rows.map((r) => r.rating), type: 'DOUBLE' },
            { name: 'timestamp', data: rows.map((r) => BigInt(r.timestamp)), type: 'INT64' },
          ],
        }),
      ),
    );
    expect(await detectFormat(j)).toBe('jsonl');
    expect(await detectFormat(pq)).toBe('parquet');
    const dj = await readSource(j, 'jsonl');
    const dp = await readSource(pq, 'parquet');
    expect(pairs(dj)).toEqual(['u1:b', 'u1:a', 'u2:b']);
    expect(pairs(dp)).toEqual(pairs(dj));
    expect(Array.from(dp.values!)).toEqual([2, 4, 5]);
    expect(Array.from(dp.times)).toEqual([20, 30, 10]);
  });
});

describe.skipIf(!hasDataset('ml-1m/ml-1m.txt'))('the shared datasets (counts of ../shared/datasets/README.md)', () => {
  it('ml-1m.txt (SASRec): 6040 users, 3416 items, 999611 interactions', async () => {
    const d = await loadDataset({ source: datasetPath('ml-1m/ml-1m.txt'), format: 'sasrec' }, {}, { cacheDir: false });
    const s = describeDataset(d);
    expect([s.users, s.items, s.interactions]).toEqual([6040, 3416, 999611]);
    expect(s.seqLen).toMatchObject({ min: 18, median: 96, max: 2277 });
    // Dense ids are the file's ids minus one (raw-id order).
    expect(d.itemIds.toRaw(0)).toBe('1');
    expect(d.userIds.toRaw(6039)).toBe('6040');
  });

  it('ml-100k u.data: 943 / 1682 / 100000, with u.item titles', async () => {
    const d = await loadDataset({ source: datasetPath('ml-100k/u.data') }, {}, { cacheDir: false });
    expect([d.nUsers, d.nItems, d.offsets[d.nUsers]]).toEqual([943, 1682, 100000]);
    expect(text(d.itemSide!.columns.title, itemRow(d, '1'))).toBe('Toy Story (1995)');
  });

  it('Beauty.txt (S3-Rec, one user per line): 22363 / 12101 / 198502', async () => {
    const d = await loadDataset({ source: datasetPath('beauty-s3rec/Beauty.txt') }, {}, { cacheDir: false });
    expect([d.nUsers, d.nItems, d.offsets[d.nUsers]]).toEqual([22363, 12101, 198502]);
  });

  it('beauty.txt (BERT4Rec) and ml-1m-all.txt', async () => {
    const b = await loadDataset({ source: datasetPath('beauty-bert4rec/beauty.txt') }, {}, { cacheDir: false });
    expect([b.nUsers, b.nItems, b.offsets[b.nUsers]]).toEqual([40226, 54542, 353962]);
    const a = await loadDataset({ source: datasetPath('ml-1m-all/ml-1m-all.txt'), format: 'sasrec' }, {}, { cacheDir: false });
    expect([a.nUsers, a.nItems, a.offsets[a.nUsers]]).toEqual([6040, 3706, 1000209]);
  });

  it('ml-1m movies.dat (ISO-8859-1) decodes accented titles', async () => {
    // A ratings.dat of our own beside the real side files (passed explicitly).
    const ratings = fx.file('meta-test/ratings.dat', '1::1::5::978300760\n1::73::4::978300761\n2::582::3::978300762\n');
    const d = await readSource(ratings, 'ml-1m', { items: datasetPath('ml-1m-raw-meta/movies.dat'), users: datasetPath('ml-1m-raw-meta/users.dat') });
    expect(text(d.itemSide!.columns.title, itemRow(d, '1'))).toBe('Toy Story (1995)');
    expect(text(d.itemSide!.columns.title, itemRow(d, '73'))).toBe('Misérables, Les (1995)');
    expect(text(d.itemSide!.columns.title, itemRow(d, '582'))).toBe('Metisse (Café au Lait) (1993)');
    expect(text(d.userSide!.columns.zip, 0)).toBe('48067');
    // Exactly our three events were read, and the side tables were joined to them by raw id.
    expect([d.nUsers, d.nItems, d.offsets[d.nUsers]]).toEqual([2, 3, 3]);
    expect(text(d.userSide!.columns.zip, d.userIds.get('2')!)).toBe('70072');
    for (const id of ['1', '73', '582']) expect(text(d.itemSide!.columns.title, itemRow(d, id))).not.toContain('\uFFFD');
  });
});
