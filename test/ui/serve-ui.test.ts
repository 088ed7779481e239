/**
 * `reclab serve --ui`: the dashboard on the service's port behind its API key, votes in the
 * service's store, and the Service page (model, rates, latency, swap) loading in chromium with no
 * console error or failed request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildApp, type Service } from '../../src/serve/app.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir, writeFixtureBundle } from '../serve/fixtures.ts';
import { hasChromium, openBrowser, screenshot, watch, writeFixtureRuns } from './fixtures.ts';

const PORT = 20120;
const KEY = 'serve-ui-key';

describe('reclab serve --ui', () => {
  let service: Service;
  let store: SqliteStore;
  let base: string;

  beforeAll(async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'markov'), 'markov');
    store = SqliteStore.open(join(dir, 'serve.db'));
    service = await buildApp({ store, slot: new ModelSlot(dir), apiKey: KEY, rateLimit: 0, ui: { roots: [await writeFixtureRuns()] } });
    await service.swapModel();
    await service.app.listen({ port: PORT, host: '127.0.0.1' });
    base = `http://127.0.0.1:${PORT}`;
  });
  afterAll(async () => {
    await service?.app.close();
    await store?.close();
  });

  it('serves the dashboard behind the service key, and keeps votes in the service store', async () => {
    expect((await fetch(`${base}/ui`, { redirect: 'manual' })).headers.get('location')).toBe('/ui/');
    expect((await fetch(`${base}/ui/`)).status).toBe(200);
    expect((await fetch(`${base}/ui/api/catalog`)).status).toBe(401);
    const headers = { 'X-API-Key': KEY };
    const config = (await (await fetch(`${base}/ui/api/config`, { headers })).json()) as { service: boolean };
    expect(config.service).toBe(true);
    const id = '0:arena-fixture/arena.json';
    const ballot = (await (await fetch(`${base}/ui/api/arena/ballot?id=${id}&voter=ann`, { headers })).json()) as { ballot: string };
    const vote = await fetch(`${base}/ui/api/arena/vote`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify({ ballot: ballot.ballot, voter: 'ann', choice: 'left' }) });
    expect(vote.status).toBe(200);
    expect((await store.listVotes()).map((v) => v.voter)).toEqual(['ann']);
  });

  it.skipIf(!hasChromium)('the Service page shows the served model with no console error or failed request', async () => {
    const browser = await openBrowser();
    try {
      const page = await browser.context.newPage();
      await page.addInitScript((key) => (globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }).sessionStorage.setItem('reclab-api-key', key), KEY);
      const problems = watch(page);
      await page.goto(`${base}/ui/#/service`);
      await page.waitForSelector('.stats dl');
      // Two polls, so the rates have a previous sample.
      await page.waitForTimeout(2500);
      expect(await page.locator('.stats').textContent()).toContain('markov');
      await screenshot(page, 'service');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
