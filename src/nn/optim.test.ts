/**
 * Optimizer plumbing: reduction of per-thread gradients, global-norm clipping, lazy rows, weight
 * decay only where `decay` is set, and the learning-rate schedules — each against values worked
 * out by hand from the formulas.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../kernels/engine.ts';
import { ParamSet } from './params.ts';
import { Adam, ADAM_DEFAULTS, constantLr, warmupCosine } from './optim.ts';

const eng = new Engine({ threads: 2 });

describe('Adam.step', () => {
  it('sums thread gradients, clips by the global norm, updates lazily, zeroes the gradients', () => {
    const owner = {};
    const ps = new ParamSet(eng, 2, owner);
    const w = ps.add('w', [2, 2]); // dense, decays
    const b = ps.add('b', [2], { decay: false });
    const e = ps.add('e', [3, 2], { sparseRow: 2, decay: false });
    w.data.a.set([1, 1, 1, 1]);
    e.data.a.set([5, 5, 5, 5, 5, 5]);
    // thread gradients: w: (1,0,0,0) + (2,0,0,0) = (3,0,0,0); b: (0,4); e row 1: (0,0)+(0,0), row 2 untouched
    w.grads[0].a.set([1, 0, 0, 0]);
    w.grads[1].a.set([2, 0, 0, 0]);
    b.grads[1].a.set([0, 4]);
    const rows = eng.i32(1);
    rows.a[0] = 1;
    e.grads[0].a.set([0, 0, 0, 12, 0, 0]);
    // global norm = √(3² + 4² + 12²) = 13; clip to 6.5 → every gradient halves
    const adam = new Adam(ps, { ...ADAM_DEFAULTS, clipNorm: 6.5, weightDecay: 0.1, decoupled: true });
    const norm = adam.step(0.01, 2, new Map([[e, { rows, count: 1 }]]));
    expect(norm).toBeCloseTo(13, 5);
    // first Adam step moves each parameter with a nonzero gradient by lr·sign(g) (m̂/√v̂ = ±1);
    // AdamW also shrinks decaying parameters by lr·wd·p first
    const shrink = 1 - 0.01 * 0.1;
    expect(w.data.a[0]).toBeCloseTo(shrink - 0.01, 6);
    expect(w.data.a[1]).toBeCloseTo(shrink, 6);
    expect(b.data.a[0]).toBe(0);
    expect(b.data.a[1]).toBeCloseTo(-0.01, 6);
    expect(Array.from(e.data.a)).toEqual([5, 5, 5, Math.fround(5 - 0.01), 5, 5]);
    // the reduced first moment is (1 − β1)·g/2 after clipping: w[0] had g = 3 → 1.5
    expect(w.m.a[0]).toBeCloseTo(0.1 * 1.5, 6);
    expect(e.m.a[3]).toBeCloseTo(0.1 * 6, 6);
    for (const p of ps.list) for (const g of p.grads) expect(Array.from(g.a).every((v) => v === 0)).toBe(true);
  });
});

describe('schedules', () => {
  it('linear warm-up then cosine decay, by hand', () => {
    const lr = warmupCosine(1, 4, 14, 0.1);
    expect(lr(0)).toBeCloseTo(0.25);
    expect(lr(3)).toBeCloseTo(1);
    expect(lr(4)).toBeCloseTo(1);
    expect(lr(9)).toBeCloseTo(0.1 + 0.9 * 0.5); // halfway: cos(π/2) = 0
    expect(lr(14)).toBeCloseTo(0.1);
    expect(lr(100)).toBeCloseTo(0.1);
    expect(constantLr(0.3)(7)).toBe(0.3);
  });
});
