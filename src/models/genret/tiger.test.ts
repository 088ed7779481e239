/**
 * TIGER: the JS beam decoder against the engine's recorded forward (two implementations of one
 * network), the engine's gradients against finite differences of its own loss, the constrained
 * beam search's guarantee (only items, never twice, never an excluded one) over random tries and
 * random models, and learning a deterministic next-item rule.
 */
import { describe, expect, it } from 'vitest';
import { Tiger } from './tiger.ts';
import { withCollisionLevel, randomIds, type IdTable } from './ids.ts';
import { IdTrie, constrainedBeamSearch } from './trie.ts';
import { TigerDecoder, type DecoderState } from './tiger-infer.ts';
import { fromSequences } from '../../data/interactions.ts';
import { Rng } from '../../util/rng.ts';
import { maxRelError } from '../../nn/gradcheck.ts';

/** A 3-level table of n items with codebooks of size K (collisions resolved by the extra level). */
function table(n: number, K: number, seed: number): IdTable {
  return randomIds(n, 2, K, seed);
}

const small = { ids: 'unused.json', maxItems: 4, hidden: 8, heads: 2, ffn: 16, encBlocks: 1, decBlocks: 2, dropout: 0, userBuckets: 5, threads: 1, epochs: 0, beam: 6 };

describe('TIGER', () => {
  it('the JS decoder reproduces the engine forward (logits of every decoder position)', async () => {
    const t = table(12, 3, 1);
    const train = fromSequences([[0, 1, 2, 3, 4, 5], [6, 7, 8], [9, 10, 11, 0, 1]], 12);
    const model = new Tiger(small, t);
    await model.fit(train, { seed: 3, progress: false });
    const batch = model.makeBatch(train, Int32Array.from([0, 1, 2, 0]), Int32Array.from([5, 2, 3, 1]));
    const eng = model.network.logits(batch);
    const dec = new TigerDecoder(model.network);
    const m = model.network.vocab.m, V = model.network.vocab.codeTokens;
    const engineMems = model.network.memories(batch);
    for (let s = 0; s < batch.nSeq; s++) {
      const mem = dec.memory(batch.encIds.subarray(batch.encOff[s], batch.encOff[s + 1]));
      // the memory's keys and values of the last decoder block, computed in a batch on the engine
      expect(maxRelError(engineMems[s].K[1], mem.K[1])).toBeLessThan(1e-4);
      expect(maxRelError(engineMems[s].V[1], mem.V[1])).toBeLessThan(1e-4);
      let state: DecoderState | null = null;
      for (let j = 0; j < m; j++) {
        const js = dec.nextLogits(mem, batch.decIds.subarray(s * m, s * m + j + 1));
        expect(maxRelError(js, eng.subarray((s * m + j) * V, (s * m + j + 1) * V))).toBeLessThan(1e-4);
        // the incremental form (cached rows, one new row per token) gives the same logits
        const step = dec.extend(mem, state, batch.decIds[s * m + j]);
        expect(maxRelError(step.logits, js)).toBeLessThan(1e-5);
        state = step.state;
      }
    }
  });

  it('its gradients match central differences of its loss', async () => {
    const t = table(10, 3, 2);
    const train = fromSequences([[0, 1, 2, 3, 4], [5, 6, 7], [8, 9, 0, 1]], 10);
    const model = new Tiger(small, t);
    await model.fit(train, { seed: 5, progress: false });
    const net = model.network;
    const batch = model.makeBatch(train, Int32Array.from([0, 1, 2]), Int32Array.from([4, 2, 3]));
    for (const p of net.params.list) p.grads[0].a.fill(0);
    net.forwardBackward(batch, null);
    const rng = new Rng(9);
    const analytic: number[] = [], numeric: number[] = [];
    const eps = 1e-3; // float32 loss: smaller steps drown in rounding, larger ones cross ReLU kinks
    for (const p of net.params.list) {
      const g = p.grads[0].a.slice();
      for (let k = 0; k < 3; k++) {
        const i = rng.int(p.size);
        const x0 = p.data.a[i];
        const loss = (): number => {
          for (const q of net.params.list) q.grads[0].a.fill(0);
          return net.forwardBackward(batch, null).loss;
        };
        p.data.a[i] = x0 + eps;
        const lp = loss();
        p.data.a[i] = x0 - eps;
        const lm = loss();
        p.data.a[i] = x0;
        analytic.push(g[i]);
        numeric.push((lp - lm) / (2 * eps));
      }
    }
    expect(maxRelError(analytic, numeric, 1e-3)).toBeLessThan(2e-2);
  });

  it('constrained beam search returns only items, each once, never an excluded one (random tries and scores)', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.int(40), K = 2 + rng.int(5), levels = 1 + rng.int(3);
      const codes = Int32Array.from({ length: n * levels }, () => rng.int(K));
      const t = withCollisionLevel(codes, n, levels, 'test', new Array(levels).fill(K));
      const trie = new IdTrie(t);
      const width = 1 + rng.int(8), k = 1 + rng.int(10);
      const excluded = new Set(Array.from({ length: rng.int(4) }, () => rng.int(n)));
      const out = constrainedBeamSearch(trie, width, k,
        (beams, level) => beams.map(() => Float64Array.from({ length: t.cardinalities[level] }, () => (rng.next() < 0.1 ? -Infinity : -5 * rng.next()))),
        (i) => excluded.has(i));
      const items = out.map((r) => r.item);
      expect(new Set(items).size).toBe(items.length);
      for (const i of items) {
        expect(i >= 0 && i < n).toBe(true);
        expect(excluded.has(i)).toBe(false);
      }
      expect(items.length).toBeLessThanOrEqual(Math.min(k, n - excluded.size));
      for (let r = 1; r < out.length; r++) expect(out[r - 1].score).toBeGreaterThanOrEqual(out[r].score);
    }
  });

  it('random (untrained) models only ever retrieve items', async () => {
    for (let seed = 0; seed < 5; seed++) {
      const n = 30;
      const t = randomIds(n, 2, 4, seed);
      const train = fromSequences([[0, 1, 2, 3], [4, 5, 6, 7, 8], [9, 10, 11]], n);
      const model = new Tiger({ ...small, beam: 10 }, t);
      await model.fit(train, { seed, progress: false });
      const out = new Float32Array(3 * n);
      model.scoreUsers(Int32Array.from([0, 1, 2]), train, out);
      for (let u = 0; u < 3; u++) {
        const row = out.subarray(u * n, (u + 1) * n);
        const hits = [...row].map((s, i) => [s, i]).filter(([s]) => s > -1e37);
        expect(hits.length).toBe(10);
        const hist = new Set(train.items.subarray(train.offsets[u], train.offsets[u + 1]));
        for (const [s, i] of hits) {
          expect(hist.has(i)).toBe(false);
          expect(s).toBeLessThanOrEqual(0);
        }
      }
    }
  });

  it('learns a deterministic next-item rule (i → i + 1) through generated IDs', async () => {
    const n = 16;
    const t = randomIds(n, 2, 4, 7);
    const seqs = Array.from({ length: 40 }, (_, u) => Array.from({ length: 6 }, (_, j) => (u + j) % n));
    const train = fromSequences(seqs, n);
    const model = new Tiger({ ...small, hidden: 16, ffn: 32, epochs: 40, batchSize: 32, lr: 5e-3, dropout: 0, excludeHistory: false }, t);
    await model.fit(train, { seed: 1, progress: false });
    let hits = 0;
    for (let u = 0; u < 20; u++) {
      const items = train.items.subarray(train.offsets[u], train.offsets[u + 1]);
      const top = model.retrieve(model.encoderTokens(u, items), 1, 4);
      if (top[0].item === (items[items.length - 1] + 1) % n) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(18);
  });
});
