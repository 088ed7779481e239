/**
 * The production loop (issue 18, must-show 2): feedback on items the serving model has never
 * seen → an on-demand retrain → the new model recommends them; a deliberately worse candidate
 * (fitted on shuffled feedback) is refused by the gate with its figures in the log; a rollback
 * restores the previous model. All through the HTTP API of a started server, with the retrain in
 * its child process (EASE, a real registered model).
 *
 * Data: 4 groups of 10 items (g<k>i<j>); 60 users each clicked 6 items of their group. The new
 * feedback adds a fifth group of items n0–n4, which the base model has never seen, clicked by 30
 * new users, and more clicks of the old users within their groups.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { buildApp } from '../../src/serve/app.ts';
import { openStore } from '../../src/serve/store.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir } from './fixtures.ts';
import { NEW, newFeedback, writeBase } from './retrain-fixtures.ts';

const KEY = 'admin-k3y';

describe('the retrain loop', () => {
  let root: string;
  let models: string;
  let server: RunningServer;
  const log: string[] = [];
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const recommend = async (user: string, n = 4) => {
    const r = (await call('GET', `/api/recommend/${user}?n=${n}&format=reclab`)).json as { Strategy: string; Model: { Version: string }; Items: { ItemId: string }[] };
    return { strategy: r.Strategy, version: r.Model.Version, ids: r.Items.map((i) => i.ItemId) };
  };

  beforeAll(async () => {
    root = tempDir('reclab-retrain-');
    models = join(root, 'models');
    mkdirSync(models);
    await writeBase(join(models, 'base'));
    server = await startServer({
      models,
      db: `sqlite:${join(root, 'store.db')}`,
      port: 0,
      host: '127.0.0.1',
      apiKey: KEY,
      rateLimit: 0,
      log: (line) => log.push(line),
      retrain: { db: `sqlite:${join(root, 'store.db')}`, every: 0, holdout: 0.2, tolerance: 0, minNew: 1, negativeTypes: ['dislike'], readTypes: ['read'] },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('learns items it has never seen: feedback → retrain (serving meanwhile) → recommended', async () => {
    expect((await call('POST', '/api/feedback', newFeedback(0))).json).toEqual({ RowAffected: 150 });
    // probe clicked the new n0 and an old item: the base model knows only the old one.
    await call('POST', '/api/feedback', [
      { FeedbackType: 'click', UserId: 'probe', ItemId: 'g0i0', Timestamp: '2024-06-01' },
      { FeedbackType: 'click', UserId: 'probe', ItemId: 'n0', Timestamp: '2024-06-02' },
    ]);
    const before = await recommend('probe', 10);
    expect(before.strategy).toBe('model');
    expect(before.version).toMatch(/^base@/);
    expect(before.ids.filter((id) => NEW.includes(id))).toEqual([]);

    // Serving goes on while the child fits: every request during the retrain is answered.
    let stop = false;
    let answered = 0;
    let failed = 0;
    const load = (async () => {
      while (!stop) {
        const r = await fetch(`${server.url}/api/recommend/u${answered % 60}?n=5`, { headers: { 'x-api-key': KEY } });
        await r.arrayBuffer();
        if (r.status === 200) answered++;
        else failed++;
      }
    })();
    const retrain = await call('POST', '/api/model/retrain', { Wait: true });
    stop = true;
    await load;
    expect(retrain.status).toBe(200);
    const record = retrain.json as { outcome: string; swapped: boolean; bundle: string; figures: { candidate: number; serving: number; users: number } };
    expect(record.outcome).toBe('accepted');
    expect(record.swapped).toBe(true);
    expect(record.figures.candidate).toBeGreaterThan(record.figures.serving);
    expect(answered).toBeGreaterThan(0);
    expect(failed).toBe(0);
    console.log(`retrain: ${JSON.stringify(record.figures)}; ${answered} requests answered during it, ${failed} failed`);

    // The new model knows the new items. The clicks come in rotations {n0,n1,n2}, {n1,n2,n3},
    // {n2,n3,n4}, {n3,n4,n0}, {n4,n0,n1}: n0 is clicked with n1 and with n4 in two of its three
    // rotations, with n2 and n3 in one — so for probe (n0 and g0i0) n1 and n4 come first.
    const after = await recommend('probe', 10);
    console.log(`probe's top 10 after the retrain: ${after.ids.join(' ')}`);
    expect(after.version.startsWith(`${record.bundle}@`)).toBe(true);
    expect(after.ids.slice(0, 2).sort()).toEqual(['n1', 'n4']);
    expect(readFileSync(join(models, 'CURRENT'), 'utf8').trim()).toBe(record.bundle);
    // A disliked new item is never recommended back, and pulls nothing in.
    await call('POST', '/api/feedback', [{ FeedbackType: 'dislike', UserId: 'probe', ItemId: after.ids[0], Timestamp: '2024-06-03' }]);
    expect((await recommend('probe')).ids).not.toContain(after.ids[0]);
  }, 120_000);

  it('refuses a worse candidate (fitted on shuffled feedback) and logs its figures', async () => {
    const serving = ((await call('GET', '/api/model')).json as { Version: string }).Version;
    await call('POST', '/api/feedback', newFeedback(1));
    const r = await call('POST', '/api/model/retrain', { Wait: true, Control: 'shuffled' });
    const record = r.json as { outcome: string; swapped: boolean; reason: string; figures: { candidate: number; serving: number } };
    expect(record.outcome).toBe('refused');
    expect(record.swapped).toBe(false);
    expect(record.figures.candidate).toBeLessThan(record.figures.serving);
    expect(((await call('GET', '/api/model')).json as { Version: string }).Version).toBe(serving);
    const line = log.find((l) => l.includes('refused') && l.includes('shuffled'));
    expect(line).toMatch(/ndcg@10 candidate 0\.\d{4} serving 0\.\d{4}/);
    console.log(line);
    // The record is kept: in the API and in the models directory.
    const history = (await call('GET', '/api/model/retrains')).json as { Retrains: { outcome: string }[] };
    expect(history.Retrains.map((x) => x.outcome)).toEqual(['accepted', 'refused']);
    expect(readFileSync(join(models, 'retrains.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  }, 120_000);

  it('rolls back to the previous model', async () => {
    const r = await call('POST', '/api/model/rollback');
    expect(r.status).toBe(200);
    expect(r.json.To).toBe('base');
    expect(((await call('GET', '/api/model')).json as { Version: string }).Version).toMatch(/^base@/);
    expect((await recommend('probe', 10)).ids.filter((id) => NEW.includes(id))).toEqual([]);
    expect(readFileSync(join(models, 'CURRENT'), 'utf8').trim()).toBe('base');
    // Rolling back again returns to the retrained model (the swap before the rollback).
    expect((await call('POST', '/api/model/rollback')).json.From).toBe('base');
  });

  it('keeps the admin routes closed without an API key', async () => {
    const store = await openStore(`sqlite:${join(root, 'open.db')}`);
    const open = await buildApp({ store, slot: new ModelSlot(models), rateLimit: 0 });
    try {
      for (const [method, url] of [['POST', '/api/model/retrain'], ['POST', '/api/model/rollback'], ['GET', '/api/model/retrains']] as const) {
        expect((await open.app.inject({ method, url })).statusCode).toBe(403);
      }
    } finally {
      await open.app.close();
      await store.close();
    }
    expect(existsSync(join(models, 'base', 'serve.json'))).toBe(true);
  });
});
