/**
 * The dashboard in a real browser (Debian's chromium through playwright-core): every page loads
 * with no console error and no failed request; the Runs page overlays two traces (read back from
 * the chart); the LLM-law calculator gives 65.45; 20 keyboard votes move the human ratings as the
 * hand computation says; a second vote on a pair is refused; a `<script>` title shows as text;
 * with an API key every data route asks for it. Skips when chromium is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startUi, type UiServer } from '../../src/serve/ui/server.ts';
import type { HumanVote } from '../../src/judge/human.ts';
import { ARENA_SYSTEMS, CHROMIUM, HOSTILE_TITLE, TRACE_A, TRACE_B, hasChromium, openBrowser, screenshot, watch, writeFixtureRuns } from './fixtures.ts';

if (!hasChromium) console.warn(`[skip] dashboard browser tests need chromium at ${CHROMIUM} (apt-get install chromium)`);

/** What the callbacks run in the page see (the tests compile without the DOM library). */
type InPage = { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null }; reclabCharts: Record<string, unknown>; __xss?: number };

/** True once a new pair is shown and ready for a key (or every pair is voted on). Runs in the page. */
const nextPair = (previous: string | null): boolean => {
  const d = (globalThis as unknown as InPage).document;
  const el = d.querySelector('.ballot');
  return el ? el.getAttribute('data-busy') === 'no' && el.getAttribute('data-ballot') !== previous : d.querySelector('#ballot-done') !== null;
};

const PORT = 20110;
const KEYED_PORT = 20111;
const KEY = 'test-key-20';

describe.skipIf(!hasChromium)('dashboard in chromium', () => {
  let ui: UiServer;
  let keyed: UiServer;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let dir: string;

  beforeAll(async () => {
    dir = await writeFixtureRuns();
    const datasets = { synthetic: { source: 'synthetic:users=300,items=400,interactions=6000,seed=3', format: 'synthetic', name: 'synthetic' } };
    ui = await startUi({ port: PORT, roots: [dir], datasets, seed: 7 });
    keyed = await startUi({ port: KEYED_PORT, roots: [dir], datasets, apiKey: KEY, db: `sqlite:${dir}/keyed-votes.db` });
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await ui?.close();
    await keyed?.close();
  });

  const open = async (hash: string, url = ui.url): Promise<{ page: Page; problems: string[] }> => {
    const page = await browser.context.newPage();
    const problems = watch(page);
    await page.goto(`${url}#/${hash}`);
    return { page, problems };
  };

  it('every page loads with no console error and no failed request (and is photographed when asked)', async () => {
    const ready: Record<string, string> = {
      runs: 'table.catalog',
      data: '[data-chart="data-longtail"] canvas',
      laws: '#llm-law',
      arena: '.ballot',
      service: 'main h2',
    };
    for (const [name, selector] of Object.entries(ready)) {
      const { page, problems } = await open(name);
      await page.waitForSelector(selector, { timeout: 30_000 });
      await page.waitForLoadState('networkidle');
      if (name === 'runs') {
        await page.check(`input[data-id="0:traces/alpha.trace.jsonl"]`);
        await page.check(`input[data-id="0:traces/beta.trace.jsonl"]`);
        await page.waitForSelector('[data-chart="runs-valid"] canvas');
      }
      if (name === 'laws') await page.waitForSelector('table');
      await screenshot(page, name);
      expect(problems, `page ${name}`).toEqual([]);
      await page.close();
    }
  });

  it('Runs overlays two traces: the chart holds both curves on the union of their epochs', async () => {
    const { page, problems } = await open('runs');
    await page.check(`input[data-id="0:traces/alpha.trace.jsonl"]`);
    await page.check(`input[data-id="0:traces/beta.trace.jsonl"]`);
    await page.waitForSelector('[data-chart="runs-loss"] canvas');
    await page.waitForSelector('[data-chart="runs-valid"] canvas');
    type Chart = { x: number[]; series: { name: string; y: (number | null)[] }[] };
    const charts = (await page.evaluate(() => (globalThis as unknown as InPage).reclabCharts)) as Record<string, Chart>;
    // Epochs 1, 2, 3 (alpha) ∪ 2, 4 (beta); each curve null where it was not evaluated.
    expect(charts['runs-loss'].x).toEqual([1, 2, 3, 4]);
    expect(charts['runs-loss'].series).toEqual([
      { name: 'traces/alpha · sasrec', y: [TRACE_A.loss[0], TRACE_A.loss[1], TRACE_A.loss[2], null] },
      { name: 'traces/beta · gru4rec', y: [null, TRACE_B.loss[0], null, TRACE_B.loss[1]] },
    ]);
    expect(charts['runs-valid'].series.map((s) => s.y)).toEqual([
      [...TRACE_A.ndcg, null],
      [null, TRACE_B.ndcg[0], null, TRACE_B.ndcg[1]],
    ]);
    // The result table (the CLI's own) and the config diff of the two results.
    await page.waitForSelector('table.results');
    expect(await page.locator('table.results th').first().textContent()).toBe('model');
    await page.waitForSelector('table.diff');
    expect(await page.locator('table.diff').textContent()).toContain('seeds');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the LLM-law calculator gives 65.45 for the test vector (N=32, h=4096, d=14336, T=15, S=8.03)', async () => {
    const { page, problems } = await open('laws');
    await page.fill('#llm-law input[name=layers]', '32');
    await page.fill('#llm-law input[name=hidden]', '4096');
    await page.fill('#llm-law input[name=ffn]', '14336');
    await page.fill('#llm-law input[name=tokens]', '15');
    await page.fill('#llm-law input[name=params]', '8.03');
    await page.click('#llm-law button[type=submit]');
    await expect.poll(() => page.locator('#llm-mmlu').textContent()).toBe('65.45');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('20 keyboard votes move the human ratings as the hand computation says; a second vote on a pair is refused; titles show as text', async () => {
    const { page, problems } = await open('arena');
    await page.fill('input[name=voter]', 'tester');
    await page.locator('input[name=voter]').press('Enter');
    await page.locator('input[name=voter]').blur();
    await page.waitForSelector('.ballot[data-voter="tester"]');
    const keys = ['a', 'a', 'b', 't', 'ArrowLeft', 'ArrowRight', 'a', 'a', 'ArrowDown', 'b', 'a', 'b', 'a', 'a', 'a', 't', 'b', 'a', 'ArrowLeft', 'a'];
    const ballots: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const ballot = (await page.getAttribute('.ballot', 'data-ballot'))!;
      ballots.push(ballot);
      await page.keyboard.press(keys[i]);
      // The next pair replaces this one once the vote is stored.
      await page.waitForFunction(nextPair, ballot, { timeout: 10_000 }).catch(async (e: Error) => {
        throw new Error(`vote ${i}: ${e.message}; status: ${await page.locator('#vote-status').textContent()}; voter ${await page.getAttribute('.ballot', 'data-voter')}`);
      });
    }
    // The stored votes (export), each the side its key named.
    const text = await page.evaluate(() => fetch('./api/arena/votes.jsonl?id=0:arena-fixture/arena.json').then((r) => r.text()));
    const votes = text.trim().split('\n').map((l) => JSON.parse(l) as HumanVote).filter((v) => v.voter === 'tester');
    expect(votes).toHaveLength(20);
    const side = (k: string) => (k === 'a' || k === 'ArrowLeft' ? 'left' : k === 'b' || k === 'ArrowRight' ? 'right' : 'tie');
    votes.forEach((v, i) => {
      const s = side(keys[i]);
      const expected = s === 'tie' ? 'tie' : (s === 'left') === (v.left === v.a) ? 'a' : 'b';
      expect(v.choice, `vote ${i} (${keys[i]}, left ${v.left})`).toBe(expected);
    });
    // Hand computation, two systems: W = wins + ½·ties + ½ (the prior's one virtual tie);
    // strengths in ratio W_ease : W_pop with geometric mean 1, so ratings 1000 ± 200·log10(W_ease / W_pop).
    const wins = (c: string) => votes.filter((v) => v.choice === c).length;
    const ties = wins('tie');
    const wEase = wins('a') + ties / 2 + 0.5;
    const wPop = wins('b') + ties / 2 + 0.5;
    const half = 200 * Math.log10(wEase / wPop);
    await expect.poll(() => page.locator('[data-ratings="human"] td[data-system="ease"]').textContent()).toBe((1000 + half).toFixed(1));
    expect(await page.locator('[data-ratings="human"] td[data-system="pop"]').textContent()).toBe((1000 - half).toFixed(1));
    expect(await page.locator('.human p').first().textContent()).toContain('20 human votes from 1 voters');
    expect(ARENA_SYSTEMS).toEqual(['ease', 'pop']);

    // Nothing failed while voting (the refusal below is expected to log its 409).
    expect(problems).toEqual([]);
    // A second vote by the same voter on a pair already voted on is refused (the store's unique key).
    const again = await page.evaluate(
      (ballot) => fetch('./api/arena/vote', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ballot, voter: 'tester', choice: 'right' }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string } })),
      ballots[0],
    );
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/already voted on this pair/);
    await page.close();
  });

  it('a voter name typed while the first pair is loading survives the pair arriving', async () => {
    const page = await browser.context.newPage();
    const problems = watch(page);
    // Hold the first ballot until the name is typed, so its arrival re-renders the input mid-edit.
    let release!: () => void;
    const typed = new Promise<void>((r) => (release = r));
    let held = false;
    await page.route('**/api/arena/ballot?*', async (route) => {
      if (!held) {
        held = true;
        await typed;
      }
      await route.continue();
    });
    await page.goto(`${ui.url}#/arena`);
    await page.fill('input[name=voter]', 'typist');
    release();
    await page.waitForSelector('.ballot');
    expect(await page.inputValue('input[name=voter]')).toBe('typist');
    await page.locator('input[name=voter]').press('Enter');
    await page.waitForSelector('.ballot[data-voter="typist"]');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a <script> title from the data shows as text and runs nothing', async () => {
    const page = await browser.context.newPage();
    const problems = watch(page);
    await page.goto(`${ui.url}#/arena`);
    await page.fill('input[name=voter]', 'reader');
    await page.locator('input[name=voter]').press('Enter');
    await page.locator('input[name=voter]').blur();
    // Skip pairs until user 0's (the hostile title's) comes up.
    for (let i = 0; i < 30; i++) {
      await page.waitForSelector('.ballot[data-voter="reader"]');
      if ((await page.locator('.history').textContent())!.includes('<script>')) break;
      const b = await page.getAttribute('.ballot', 'data-ballot');
      await page.keyboard.press('s');
      await page.waitForFunction(nextPair, b, { timeout: 10_000 }).catch(async (e: Error) => {
        throw new Error(`${e.message}; status: ${await page.locator('#vote-status').textContent()}`);
      });
    }
    const title = page.locator('.history li .title').first();
    expect(await title.textContent()).toBe(HOSTILE_TITLE);
    expect(await page.locator('.history script, .history img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as InPage).__xss)).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('with an API key every data route asks for it; the pages work once it is entered', async () => {
    const base = keyed.url;
    const routes = [
      'config',
      'catalog',
      'result?id=0:result-1seed/result-1seed.json',
      'curves?ids=0:traces/alpha.trace.jsonl',
      'diff?a=0:result-1seed/result-1seed.json&b=0:result-5seeds/result-5seeds.json',
      'data?name=synthetic',
      'laws/fit?id=0:law/fit.json',
      'laws/sr?id=0:law/fit.json&layers=2&hidden=64',
      'laws/llm?layers=32&hidden=4096&ffn=14336&tokens=15&params=8.03',
      'arena?id=0:arena-fixture/arena.json',
      'arena/ballot?id=0:arena-fixture/arena.json&voter=x',
      'arena/human?id=0:arena-fixture/arena.json',
      'arena/votes.jsonl?id=0:arena-fixture/arena.json',
    ];
    for (const r of routes) {
      expect((await fetch(`${base}api/${r}`)).status, r).toBe(401);
      expect((await fetch(`${base}api/${r}`, { headers: { 'X-API-Key': 'wrong' } })).status, r).toBe(401);
      expect((await fetch(`${base}api/${r}`, { headers: { 'X-API-Key': KEY } })).status, r).toBe(200);
    }
    expect((await fetch(`${base}api/arena/vote`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status).toBe(401);
    // The shell and the scripts hold no data: served without the key.
    expect((await fetch(base)).status).toBe(200);
    expect((await fetch(`${base}assets/app.js`)).status).toBe(200);

    // In the browser: the key form first, then the page.
    const page = await browser.context.newPage();
    await page.goto(`${base}#/laws`);
    await page.waitForSelector('.keyform');
    await page.fill('.keyform input', KEY);
    await page.click('.keyform button');
    await page.waitForSelector('#llm-law');
    const problems = watch(page);
    await page.click('#llm-law button[type=submit]');
    await expect.poll(() => page.locator('#llm-mmlu').textContent()).toBe('65.45');
    expect(problems).toEqual([]);
    await page.close();
  });
});
