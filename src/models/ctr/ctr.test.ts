import { describe, expect, it } from 'vitest';
import { contract, maxRelError, numericGrad } from '../../nn/gradcheck.ts';
import { Rng } from '../../nn/rng.ts';
import type { KnowledgeTables } from './adaptor.ts';
import type { CtrBatch, CtrSchema } from './batch.ts';
import { createCtrModel } from './registry.ts';
import { referenceLogits, type RefSpec } from './testutil.ts';

// A tiny world: 3 single-valued fields (user 0–3, item 4–9, gender 10–11), genres 12–15, ratings 16–20.
const schema: CtrSchema = { nFeatures: 21, nSingle: 3, itemField: 1, fieldNames: ['user', 'item', 'gender', 'genres', 'history'], nUsers: 4, nItems: 6 };
const batch: CtrBatch = {
  n: 3,
  cat: Int32Array.from([0, 5, 10, 2, 7, 11, 3, 9, 10]),
  genreOff: Int32Array.from([0, 2, 3, 3]),
  genres: Int32Array.from([12, 14, 13]),
  histOff: Int32Array.from([0, 3, 3, 5]),
  histItem: Int32Array.from([4, 6, 8, 5, 4]),
  histRating: Int32Array.from([20, 17, 19, 16, 20]),
  user: Int32Array.from([0, 2, 3]),
  item: Int32Array.from([1, 3, 5]),
  event: Int32Array.from([-1, -1, -1]),
  label: Float32Array.from([1, 0, 1]),
};
const dk = 5;
function knowledge(): KnowledgeTables {
  const rng = new Rng(9);
  return { dim: dk, user: Float32Array.from({ length: 4 * dk }, () => rng.normal()), item: Float32Array.from({ length: 6 * dk }, () => rng.normal()) };
}

function check(name: RefSpec['model'], extra: Record<string, unknown>, spec: Omit<RefSpec, 'model'>): void {
  const k = spec.knowledge?.k;
  const m = createCtrModel(name, { dim: spec.d, batchSize: 4, l2: 0, knowledge: Boolean(k), ...extra });
  const net = m.build(schema, k?.dim ?? 0, 1);
  // every parameter random (biases too), so no gradient is trivially zero
  const rng = new Rng(3);
  for (const p of net.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = 0.6 * rng.normal();
  const R = Float64Array.from({ length: batch.n }, () => rng.normal());
  const z = net.logits(batch, k);
  net.backward(batch, Float32Array.from(R));
  // pack all parameters into one float64 vector for the reference
  const offsets = new Map<string, [number, number]>();
  let total = 0;
  for (const p of net.params.list) {
    offsets.set(p.name, [total, p.size]);
    total += p.size;
  }
  const x = new Float64Array(total);
  for (const p of net.params.list) x.set(p.data.a, offsets.get(p.name)![0]);
  const ref = (v: Float64Array): number[] => referenceLogits((n) => {
    const o = offsets.get(n);
    if (!o) throw new Error(`reference reads unknown parameter ${n}`);
    return v.subarray(o[0], o[0] + o[1]);
  }, schema, batch, { model: name, ...spec });
  // forward agrees
  expect(maxRelError(z, ref(x))).toBeLessThan(1e-5);
  const num = numericGrad((v) => contract(R, ref(v)), x);
  for (const p of net.params.list) {
    const [o, n] = offsets.get(p.name)!;
    const err = maxRelError(p.grads[0].a, num.subarray(o, o + n), 1e-4);
    expect(err, `${name}: gradient of ${p.name}`).toBeLessThan(2e-3);
  }
}

const K = { shared: 1, dedicated: 1, hidden: 3 };

describe('CTR models: float64 finite-difference gradient checks', () => {
  it('LR', () => check('lr', {}, { d: 4, hidden: [] }));
  it('LR with knowledge', () => check('lr', { experts: K }, { d: 4, hidden: [], knowledge: { k: knowledge(), ...K } }));
  it('FM', () => check('fm', {}, { d: 4, hidden: [] }));
  it('DeepFM', () => check('deepfm', { hidden: [6, 3] }, { d: 4, hidden: [6, 3] }));
  it('DeepFM with knowledge (hybrid-expert adaptor)', () => check('deepfm', { hidden: [5], experts: { shared: 2, dedicated: 1, hidden: 3 } }, { d: 4, hidden: [5], knowledge: { k: knowledge(), shared: 2, dedicated: 1, hidden: 3 } }));
  it('DCN-V2', () => check('dcnv2', { hidden: [5], crossLayers: 2 }, { d: 4, hidden: [5], crossLayers: 2 }));
  it('DIN', () => check('din', { hidden: [6], attentionHidden: 3, maxHistory: 3 }, { d: 4, hidden: [6], attHidden: 3 }));
  it('DIN reading only the last 2 behaviours', () => check('din', { hidden: [6], attentionHidden: 3, maxHistory: 2 }, { d: 4, hidden: [6], attHidden: 3, maxHistory: 2 }));
  it('DIN with knowledge', () => check('din', { hidden: [6], attentionHidden: 3, maxHistory: 3, experts: K }, { d: 4, hidden: [6], attHidden: 3, knowledge: { k: knowledge(), ...K } }));
  it('AutoInt', () => check('autoint', { layers: 2, heads: 2 }, { d: 4, hidden: [], layers: 2, heads: 2 }));
});

describe('pre-stored knowledge vectors', () => {
  it('serving from the stored adaptor outputs gives the same logits as running the adaptor', () => {
    const k = knowledge();
    const m = createCtrModel('deepfm', { dim: 4, batchSize: 4, knowledge: true, hidden: [5], experts: K });
    const net = m.build(schema, k.dim, 2);
    const live = net.logits(batch, k).slice();
    const aug = m.augmentedVectors(k)!;
    expect(aug.user.length).toBe(schema.nUsers * 4);
    const stored = net.logits(batch, { ...k, augmented: aug });
    expect(maxRelError(stored, live)).toBeLessThan(1e-6);
  });

  for (const name of ['deepfm', 'din', 'dcnv2'] as const) {
    it(`${name}: the same with every weight random and trained steps in between (DeepFM serves through its fold)`, () => {
      const k = knowledge();
      const m = createCtrModel(name, { dim: 4, batchSize: 4, knowledge: true, hidden: [5, 3], experts: K, ...(name === 'din' ? { attentionHidden: 3, maxHistory: 3 } : {}) });
      const net = m.build(schema, k.dim, 2);
      const rng = new Rng(4);
      for (const p of net.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = 0.6 * rng.normal();
      const aug = m.augmentedVectors(k)!; // one object throughout: a fold keyed by it must still follow the weights
      for (let round = 0; round < 2; round++) {
        const now = m.augmentedVectors(k)!;
        aug.user.set(now.user);
        aug.item.set(now.item);
        const live = net.logits(batch, k).slice();
        const stored = net.logits(batch, { ...k, augmented: aug });
        expect(maxRelError(stored, live), `round ${round}`).toBeLessThan(1e-5);
        expect(Math.max(...live.map(Math.abs))).toBeGreaterThan(0.1);
        net.step(batch, k); // the weights change: a fold made before must not be reused
      }
    });
  }
});

describe('CTR checkpoints', () => {
  it('save → loadCtrModel gives the same predictions', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadCtrModel } = await import('./registry.ts');
    const dir = mkdtempSync(join(tmpdir(), 'reclab-ctr-ckpt-'));
    try {
      const m = createCtrModel('din', { dim: 4, batchSize: 4, hidden: [6], attentionHidden: 3, maxHistory: 3 });
      m.build(schema, 0, 5);
      const before = m.predictBatch(batch).slice();
      await m.save(dir);
      const back = await loadCtrModel(dir);
      expect(back.name).toBe('din');
      expect(Array.from(back.predictBatch(batch))).toEqual(Array.from(before));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
