/**
 * Feedback semantics as Gorse configures them (issue 18): negative and read feedback, the
 * fallback chain, exploration, and the online positive-feedback rate per model version and
 * strategy. Over the fixture (fixtures.ts: Markov a→b ×3, b→c ×2, b→a, c→d ×2, c→e, d→e, e→f;
 * training popularity a 4, b 3, c 3, d 2, e 2, f 1); expected lists worked out by hand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildApp, type Service } from '../../src/serve/app.ts';
import type { EngineOptions } from '../../src/serve/engine.ts';
import { openStore, type Store } from '../../src/serve/store.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

let open: { service: Service; store: Store } | undefined;

async function serve(engine: Partial<EngineOptions> = {}): Promise<Service> {
  const dir = tempDir();
  await writeFixtureBundle(join(dir, 'markov'), 'markov');
  const store = await openStore(`sqlite:${join(dir, 'x.db')}`);
  const service = await buildApp({ store, slot: new ModelSlot(dir), rateLimit: 0, engine: { popularTtl: 0, ...engine } });
  await service.swapModel();
  open = { service, store };
  return service;
}
afterEach(async () => {
  await open?.service.app.close();
  await open?.store.close();
  open = undefined;
});

const post = (s: Service, events: { FeedbackType: string; UserId: string; ItemId: string; Timestamp?: string }[]) =>
  s.app.inject({ method: 'POST', url: '/api/feedback', payload: events });
const get = async (s: Service, url: string) => JSON.parse((await s.app.inject({ method: 'GET', url })).body) as unknown;

describe('feedback kinds', () => {
  it('a dislike is never the model input and never recommended back', async () => {
    const s = await serve();
    await post(s, [
      { FeedbackType: 'click', UserId: 'x', ItemId: 'a', Timestamp: '2024-01-01' },
      { FeedbackType: 'dislike', UserId: 'x', ItemId: 'e', Timestamp: '2024-01-02' },
    ]);
    // Counted as positive, e would be the last event (e → f first); as negative, a is: a → b (3).
    expect(await get(s, '/api/recommend/x?n=1')).toEqual(['b']);
    expect(await get(s, '/api/recommend/x?n=6&seen=true')).not.toContain('e');
    // Popularity counts positive events only: e keeps its training count 2.
    expect(await get(s, '/api/popular?n=6')).toContainEqual({ Id: 'e', Score: 2 });
  });

  it('read events exclude their items without counting as taste; --positive-types narrows what counts', async () => {
    const s = await serve({ positiveTypes: ['purchase'] });
    await post(s, [
      { FeedbackType: 'purchase', UserId: 'y', ItemId: 'c', Timestamp: '2024-01-01' },
      { FeedbackType: 'click', UserId: 'y', ItemId: 'a', Timestamp: '2024-01-02' }, // not positive here
      { FeedbackType: 'read', UserId: 'y', ItemId: 'd', Timestamp: '2024-01-03' },
    ]);
    // Last positive event: c → d (2, read: excluded), e (1).
    expect(await get(s, '/api/recommend/y?n=1')).toEqual(['e']);
    expect(await get(s, '/api/recommend/y?n=6')).not.toContain('a');
    // Popular: c 3 + 1 purchase = 4; the click on a does not count (a stays 4).
    expect((await get(s, '/api/popular?n=2')) as unknown[]).toEqual([
      { Id: 'a', Score: 4 },
      { Id: 'c', Score: 4 },
    ]);
    // The session route takes the same kinds: only the purchase of b is taste (b → c 2, a 1).
    const session = await s.app.inject({
      method: 'POST',
      url: '/api/session/recommend?n=1',
      payload: [
        { ItemId: 'b', FeedbackType: 'purchase' },
        { ItemId: 'e', FeedbackType: 'click' },
      ],
    });
    expect(JSON.parse(session.body)).toEqual([{ Id: 'c', Score: 2 }]);
  });
});

describe('fallbacks and exploration', () => {
  it('fills a cold user’s page from the fallback chain: popular, then the newest items not in it', async () => {
    const s = await serve();
    await s.app.inject({ method: 'POST', url: '/api/items', payload: [{ ItemId: 'z1', Timestamp: '2030-01-01' }, { ItemId: 'z2', Timestamp: '2030-01-02' }] });
    const answer = (await get(s, '/api/recommend/cold?n=8&format=reclab')) as { Strategy: string; Items: { ItemId: string }[] };
    expect(answer.Strategy).toBe('popular');
    expect(answer.Items.map((i) => i.ItemId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'z2', 'z1']);
    const latestFirst = await serve({ fallback: ['latest'] });
    await latestFirst.app.inject({ method: 'POST', url: '/api/item', payload: { ItemId: 'z9', Timestamp: '2031-01-01' } });
    expect(((await get(latestFirst, '/api/recommend/cold?n=1&format=reclab')) as { Strategy: string }).Strategy).toBe('latest');
    expect(await get(latestFirst, '/api/recommend/cold?n=1')).toEqual(['z9']);
  });

  it('gives the exploration share of a model answer to popular items the user has not seen', async () => {
    const s = await serve({ explore: { popular: 0.25, latest: 0 } });
    await post(s, [{ FeedbackType: 'click', UserId: 'x', ItemId: 'a' }]);
    // Model after a: b (3), then c, d, e at 0 (id order); one place of four goes to the most
    // popular item not seen and not in the answer — f — at the end of the page.
    expect(await get(s, '/api/recommend/x?n=4')).toEqual(['b', 'c', 'd', 'f']);
  });
});

describe('online metrics', () => {
  it('counts written-back items as shown and positive feedback on them as hits, per model version and strategy', async () => {
    const s = await serve();
    await post(s, [{ FeedbackType: 'click', UserId: 'x', ItemId: 'a' }]);
    const shown = (await get(s, '/api/recommend/x?n=3&write-back-type=read')) as string[];
    expect(shown).toEqual(['b', 'c', 'd']);
    // A cold user's popular answer, shown through a later read event.
    expect(await get(s, '/api/recommend/newbie?n=2')).toEqual(['a', 'b']);
    await post(s, [
      { FeedbackType: 'read', UserId: 'newbie', ItemId: 'a' },
      { FeedbackType: 'click', UserId: 'x', ItemId: 'c' }, // a hit for the model
      { FeedbackType: 'click', UserId: 'x', ItemId: 'f' }, // never recommended: no hit
    ]);
    const online = (await get(s, '/metrics/online')) as { Rows: { Model: string; Strategy: string; Exposed: number; Positive: number; Rate: number }[] };
    const rows = Object.fromEntries(online.Rows.map((r) => [r.Strategy, r]));
    expect(rows.model).toMatchObject({ Model: 'test-markov', Exposed: 3, Positive: 1 });
    expect(rows.model.Rate).toBeCloseTo(1 / 3, 10);
    expect(rows.popular).toMatchObject({ Exposed: 1, Positive: 0, Rate: 0 });
    const text = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/reclab_online_positive_total\{model="test-markov",version="markov@[^"]+",strategy="model"\} 1/);
    expect(text).toMatch(/reclab_online_exposed_total\{model="test-markov",version="markov@[^"]+",strategy="model"\} 3/);
  });
});
