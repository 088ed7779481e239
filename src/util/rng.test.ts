import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';

describe('Rng', () => {
  it('is reproducible for a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
  });

  it('draws uniform integers and normals with the right moments', () => {
    const r = new Rng(7);
    const n = 200_000;
    const counts = new Array(10).fill(0);
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      counts[r.int(10)]++;
      const z = r.normal();
      sum += z;
      sumSq += z * z;
    }
    // Chi-square with 9 dof: 99.9% quantile is 27.9.
    const chi = counts.reduce((acc, c) => acc + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(27.9);
    expect(Math.abs(sum / n)).toBeLessThan(0.01);
    expect(Math.abs(sumSq / n - 1)).toBeLessThan(0.02);
  });
  it('state/setState: a stream moved to a saved position (through JSON) continues exactly, spare normal included', () => {
    const a = new Rng(11);
    for (let i = 0; i < 7; i++) a.nextUint32();
    a.normal(); // leaves the second Box–Muller variate cached: part of the state
    const saved = JSON.parse(JSON.stringify(a.state()));
    const expected = [a.normal(), a.nextUint32(), a.next(), a.normal(), a.int(1000)];
    const b = new Rng(999); // a different stream until moved
    b.setState(saved);
    expect([b.normal(), b.nextUint32(), b.next(), b.normal(), b.int(1000)]).toEqual(expected);
    expect(b.state()).toEqual(a.state());
  });

  it('setState refuses what is not a state', () => {
    const r = new Rng(1);
    expect(() => r.setState({ s: [1, 2, 3] as unknown as [number, number, number, number], spareNormal: null })).toThrow(/four uint32/);
    expect(() => r.setState({ s: [1, 2, 3, -4], spareNormal: null })).toThrow(/four uint32/);
    expect(() => r.setState({ s: [0, 0, 0, 0], spareNormal: null })).toThrow(/all-zero/);
  });
});
