/** Scratch: a buffer is reused while large enough, replaced (with headroom) when a call needs more; int buffers hold a copy. */
import { describe, expect, it } from 'vitest';
import { Engine } from '../kernels/engine.ts';
import { Scratch } from './scratch.ts';

describe('Scratch', () => {
  it('reuses, grows and copies', () => {
    const s = new Scratch(new Engine({ threads: 1 }), {});
    const a = s.get('x', 100);
    expect(a.length).toBeGreaterThanOrEqual(100);
    a.a[0] = 7;
    expect(s.get('x', 50)).toBe(a);
    expect(s.get('x', 50).a[0]).toBe(7);
    const b = s.get('x', a.length + 1);
    expect(b).not.toBe(a);
    expect(b.length).toBeGreaterThanOrEqual(Math.ceil(1.25 * (a.length + 1)) - 1);
    expect(s.get('y', 10)).not.toBe(b);
    const i = s.ints32('ids', [3, 1, 2]);
    expect(Array.from(i.a.subarray(0, 3))).toEqual([3, 1, 2]);
    expect(s.ints32('ids', [5]).a[0]).toBe(5);
  });
});
