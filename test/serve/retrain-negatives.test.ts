/**
 * Negative feedback reaches the models the service retrains (issue 18: "used by models that can
 * use it"): a retrain of an iALS bundle from a store holding dislikes fits them as observed zeros
 * (FitOptions.negatives), so the disliked items score lower for the users who disliked them than
 * in the same retrain (same data, seed and configuration) with the dislikes treated as read
 * events. Data: retrain-fixtures.ts; the retrain runs in-process (runRetrain), the gate tolerant
 * so both candidates are written.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runRetrain, type RetrainJob } from '../../src/serve/retrain-job.ts';
import { loadBundle } from '../../src/serve/bundle.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import type { FeedbackEvent } from '../../src/serve/store.ts';
import { tempDir } from './fixtures.ts';
import { group, newFeedback, writeBase } from './retrain-fixtures.ts';

describe('retraining with negative feedback', () => {
  it('an iALS retrain fits dislikes as zeros: the disliked items score lower for those users', async () => {
    const root = tempDir('reclab-retrain-neg-');
    const models = join(root, 'models');
    mkdirSync(models);
    await writeBase(join(models, 'base'), 'ials', { dim: 8, epochs: 6, solver: 'cholesky', reg: 0.05, alpha0: 0.1 });
    const db = join(root, 'store.db');
    const store = await SqliteStore.open(db).ready();
    // Clicks (new users on new items, old users in their groups), then users u0–u19 dislike the
    // first item of their group they had not clicked in the base data.
    const clicks: FeedbackEvent[] = newFeedback(0).map((e) => ({ type: e.FeedbackType, user: e.UserId, item: e.ItemId, value: 1, time: Date.parse(e.Timestamp) / 1000 }));
    const base = await loadBundle(join(models, 'base'), 'base');
    const disliked = new Map<string, string>();
    for (let u = 0; u < 20; u++) {
      const dense = base.users.get(`u${u}`)!;
      const seen = new Set(Array.from(base.history.items.subarray(base.history.offsets[dense], base.history.offsets[dense + 1]), (i) => base.items.toRaw(i)));
      disliked.set(`u${u}`, group(u % 4).find((id) => !seen.has(id))!);
    }
    const dislikes: FeedbackEvent[] = [...disliked].map(([user, item], k) => ({ type: 'dislike', user, item, value: 1, time: Date.UTC(2025, 0, 1) / 1000 + k }));
    await store.insertFeedback([...dislikes, ...clicks], 'insert');
    await store.close();

    const job = (out: string, negativeTypes: string[], readTypes: string[]): RetrainJob => ({
      root: models, serving: 'base', db: `sqlite:${db}`, out, negativeTypes, readTypes,
      holdout: 0.1, tolerance: 1, minNew: 1, k: 10, maxUsers: 100, seed: 3,
    });
    const withNeg = await runRetrain(job('with-dislikes', ['dislike'], ['read']));
    const asRead = await runRetrain(job('dislikes-as-read', [], ['read', 'dislike']));
    expect(withNeg.outcome).toBe('accepted');
    expect(asRead.outcome).toBe('accepted');

    const a = await loadBundle(join(models, 'with-dislikes'), 'a');
    const b = await loadBundle(join(models, 'dislikes-as-read'), 'b');
    let lower = 0;
    let drop = 0;
    const sa = new Float32Array(a.model.nItems);
    const sb = new Float32Array(b.model.nItems);
    for (const [user, item] of disliked) {
      a.model.scoreUsers(Int32Array.of(a.users.get(user)!), a.history, sa);
      b.model.scoreUsers(Int32Array.of(b.users.get(user)!), b.history, sb);
      const x = sa[a.items.get(item)!];
      const y = sb[b.items.get(item)!];
      if (x < y) lower++;
      drop += y - x;
    }
    console.log(`dislikes fitted: ${lower} of ${disliked.size} disliked items score lower; mean drop ${(drop / disliked.size).toFixed(4)}`);
    expect(lower).toBeGreaterThanOrEqual(16);
    expect(drop).toBeGreaterThan(0);
  }, 120_000);
});
