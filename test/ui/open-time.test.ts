/**
 * How fast the dashboard opens on ML-1M-sized results: the Runs page over docs/results (ML-1M
 * traces), two ML-1M traces overlaid, and the Data page on ML-1M (first open, which reads and
 * describes the dataset, and a second open). Measured in chromium from navigation to the page's
 * content drawn, printed as JSON lines; reported, never asserted (tests do not time things — this
 * only records what the browser saw). Needs ../shared/datasets/ml-1m and chromium, else skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startUi, type UiServer } from '../../src/serve/ui/server.ts';
import { ROOT, hasChromium, openBrowser, watch } from './fixtures.ts';

const ML1M = join(ROOT, '../shared/datasets/ml-1m/ml-1m.txt');
const ready = hasChromium && existsSync(ML1M);
if (!ready) console.warn(`[skip] dashboard open time needs chromium and ${ML1M} (../shared absent?)`);

describe.skipIf(!ready)('dashboard open time on ML-1M-sized results', () => {
  let ui: UiServer;
  beforeAll(async () => {
    ui = await startUi({ port: 20130, roots: [join(ROOT, 'docs/results')], datasets: { 'ml-1m': { source: ML1M, format: 'sasrec', name: 'ml-1m' } }, db: 'sqlite::memory:' });
  });
  afterAll(async () => {
    await ui?.close();
  });

  it('records page open times (reported, not asserted)', async () => {
    const browser = await openBrowser();
    const figures: Record<string, { seconds: number; inPageSeconds: number }> = {};
    try {
      const time = async (name: string, hash: string, selector: string, then?: (page: import('playwright-core').Page) => Promise<void>) => {
        const page = await browser.context.newPage();
        const problems = watch(page);
        const t0 = Date.now();
        await page.goto(`${ui.url}#/${hash}`);
        await page.waitForSelector(selector, { timeout: 120_000 });
        if (then) await then(page);
        // Also the page's own clock: milliseconds since its navigation started (no test-side overhead).
        const inPage = await page.evaluate(() => (globalThis as unknown as { performance: { now(): number } }).performance.now());
        figures[name] = { seconds: (Date.now() - t0) / 1000, inPageSeconds: inPage / 1000 };
        expect(problems, name).toEqual([]);
        await page.close();
      };
      await time('runs', 'runs', 'table.catalog tbody tr');
      await time('runs_two_ml1m_traces', 'runs', 'table.catalog tbody tr', async (page) => {
        await page.check('input[data-id="0:seq-traces/seq-sasrec-ml1m.trace.jsonl"]');
        await page.check('input[data-id="0:seq-traces/seq-hstu-ml1m.trace.jsonl"]');
        await page.waitForSelector('[data-chart="runs-valid"] canvas');
      });
      await time('data_ml1m_first', 'data', '[data-chart="data-longtail"] canvas');
      await time('data_ml1m_again', 'data', '[data-chart="data-longtail"] canvas');
      await time('laws', 'laws', '#llm-law');
    } finally {
      await browser.close();
    }
    for (const [page, f] of Object.entries(figures)) console.log(JSON.stringify({ bench: 'ui-open', case: page, seconds: f.seconds, in_page_s: f.inPageSeconds, note: 'one run: navigation → content drawn (test clock; page clock), on a shared 2-core machine' }));
  });
});
