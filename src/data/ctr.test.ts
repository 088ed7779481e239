import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ageBucket, buildCtrMovieLens100k, ctrSplitEvents, yearBucket } from './ctr.ts';

const DIR = new URL('../../../shared/datasets/ml-100k', import.meta.url).pathname;
const have = existsSync(`${DIR}/u.data`);
if (!have) console.warn(`ctr.test: ${DIR} absent; the ML-100K CTR view tests are skipped`);

describe('CTR view', () => {
  it('buckets ages and years', () => {
    expect([ageBucket(12), ageBucket(18), ageBucket(24), ageBucket(25), ageBucket(56), ageBucket(80)]).toEqual([0, 1, 1, 2, 6, 6]);
    expect([yearBucket(null), yearBucket(1930), yearBucket(1940), yearBucket(1995), yearBucket(2001)]).toEqual([0, 1, 2, 7, 8]);
  });

  it.skipIf(!have)('ML-100K: fields, labels, time split, history strictly before the event', () => {
    const ds = buildCtrMovieLens100k(DIR);
    expect(ds.nEvents).toBe(100000);
    expect(ds.nUsers).toBe(943);
    expect(ds.nItems).toBe(1682);
    const F = ds.fields.length;
    for (let e = 0; e < ds.nEvents; e += 997) {
      expect(ds.label[e]).toBe(ds.rating[e] >= 4 ? 1 : 0);
      expect(ds.cat[e * F]).toBe(ds.fields[0].offset + ds.user[e]);
      expect(ds.cat[e * F + 5]).toBe(ds.fields[5].offset + ds.item[e]);
      const u = ds.user[e];
      expect(ds.histLen[e]).toBeLessThanOrEqual(30);
      for (let p = ds.histStart[e]; p < ds.histStart[e] + ds.histLen[e]; p++) {
        expect(p).toBeGreaterThanOrEqual(ds.seqOff[u]);
        expect(ds.seqTime[p]).toBeLessThan(ds.time[e]);
      }
    }
    const tr = ctrSplitEvents(ds, 0);
    const va = ctrSplitEvents(ds, 1);
    const te = ctrSplitEvents(ds, 2);
    expect(tr.length + va.length + te.length).toBe(100000);
    expect(Math.abs(tr.length - 80000)).toBeLessThan(200);
    expect(ds.time[tr[tr.length - 1]]).toBeLessThan(ds.time[va[0]]);
    expect(ds.time[va[va.length - 1]]).toBeLessThan(ds.time[te[0]]);
    // Toy Story: 1995, Animation/Children's/Comedy
    const toy = ds.items.find((i) => i.rawId === '1')!;
    expect(toy.year).toBe(1995);
    expect(toy.genres).toEqual(['Animation', "Children's", 'Comedy']);
  });
});
