/**
 * Fixtures of the dashboard tests: a folder of results as reclab writes them — two traces with
 * hand-written curves, two real CTR results and a law fit copied from docs/results, and an Arena
 * report (written by the report code itself) whose pool holds a title with `<script>` — and the
 * browser, Debian's chromium driven by playwright-core with a fresh profile.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { DIMENSIONS, type ArenaRun, type MatchRecord, type Outcome } from '../../src/judge/arena.ts';
import { arenaPool } from '../../src/judge/human.ts';
import { summarize } from '../../src/judge/summary.ts';
import { writeArenaReport } from '../../src/judge/report.ts';
import type { UsageTotals } from '../../src/llm/accounting.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Trace A: loss 1.0, 0.8, 0.7 at epochs 1..3, ndcg@10 0.10, 0.15, 0.17. Trace B: every 2nd epoch, 1.2, 0.9 at 2, 4; ndcg 0.05, 0.12. */
export const TRACE_A = { epoch: [1, 2, 3], loss: [1.0, 0.8, 0.7], ndcg: [0.1, 0.15, 0.17] };
export const TRACE_B = { epoch: [2, 4], loss: [1.2, 0.9], ndcg: [0.05, 0.12] };

/** A title that must show as text on the voting page. */
export const HOSTILE_TITLE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';

const traceLine = (model: string, epoch: number, loss: number, ndcg: number) =>
  JSON.stringify({ model, epoch, loss, train_s: epoch, wall_s: epoch, valid: { 'ndcg@10': ndcg }, test: { 'ndcg@10': ndcg }, best_valid_epoch: epoch, protocol: 'leave-one-out; uni100', data: 'fixture' });

const ZERO_USAGE: UsageTotals = { calls: 0, cachedCalls: 0, promptTokens: 0, completionTokens: 0, estimatedCalls: 0, costUsd: 0, retries: 0, repairs: 0, failures: 0, latencyMs: { mean: 0, p50: 0, p95: 0, max: 0 } };

/** Systems and users of the fixture Arena: 25 users, two systems, so 25 pairs to vote on. */
export const ARENA_SYSTEMS = ['ease', 'pop'];
export const ARENA_USERS = 25;

/** Writes the fixture folder and returns its path. */
export async function writeFixtureRuns(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-ui-'));
  mkdirSync(join(dir, 'traces'), { recursive: true });
  writeFileSync(join(dir, 'traces', 'alpha.trace.jsonl'), TRACE_A.epoch.map((e, i) => traceLine('sasrec', e, TRACE_A.loss[i], TRACE_A.ndcg[i])).join('\n') + '\n');
  writeFileSync(join(dir, 'traces', 'beta.trace.jsonl'), TRACE_B.epoch.map((e, i) => traceLine('gru4rec', e, TRACE_B.loss[i], TRACE_B.ndcg[i])).join('\n') + '\n');
  for (const f of ['result-1seed.json', 'result-5seeds.json']) {
    mkdirSync(join(dir, f.replace('.json', '')), { recursive: true });
    copyFileSync(join(ROOT, 'docs/results/ctr-ml100k', f), join(dir, f.replace('.json', ''), f));
  }
  mkdirSync(join(dir, 'law'), { recursive: true });
  copyFileSync(join(ROOT, 'docs/results/laws/beauty-sasrec/fit.json'), join(dir, 'law', 'fit.json'));

  // The Arena: user u has a history of 3 films; ease lists 3 films, pop 3 others; user 0's first
  // history title is hostile. The LLM's verdicts cycle a, a, b, tie.
  const item = (id: number, title = `Film ${id}`) => ({ id, title, genres: ['Drama'] });
  const users = Array.from({ length: ARENA_USERS }, (_, u) => ({
    user: u,
    label: `u${u}`,
    profile: 'likes films',
    history: [item(1000 + u, u === 0 ? HOSTILE_TITLE : undefined), item(2000 + u), item(3000 + u)].map((it) => ({ ...it, rating: 4 })),
  }));
  const systems = ARENA_SYSTEMS.map((name, s) => ({ name, lists: new Map(users.map((u) => [u.user, [item(10 * u.user + s), item(10 * u.user + s + 2), item(10 * u.user + s + 4)]])) }));
  const cycle: Outcome[] = ['a', 'a', 'b', 'tie'];
  const matches: MatchRecord[] = users.map((u) => {
    const outcome = {} as Record<(typeof DIMENSIONS)[number], Outcome>;
    for (const d of DIMENSIONS) outcome[d] = cycle[u.user % cycle.length];
    return { user: u.user, userLabel: u.label, a: 'ease', b: 'pop', forward: null, backward: null, outcome, hashes: [] };
  });
  const run: ArenaRun = { template: 'arena-judge@2', judge: 'scripted:fixture', k: 3, systems: [...ARENA_SYSTEMS], matches };
  await writeArenaReport(join(dir, 'arena-fixture'), run, summarize(run, undefined, { reps: 50 }), { setup: { fixture: true }, usage: ZERO_USAGE, pool: arenaPool(users, systems, 3) });
  return dir;
}

/** Chromium with a fresh profile, as the brief of the browser tests asks (no network services). */
export async function openBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'reclab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { context, close: () => context.close() };
}

/** Problems a page reports: console errors, uncaught exceptions, failed requests, HTTP errors. */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

/** Saves a screenshot under docs/images only when RECLAB_UI_SCREENSHOTS=1 (so CI leaves the tree clean). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.RECLAB_UI_SCREENSHOTS !== '1') return;
  mkdirSync(join(ROOT, 'docs/images'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'docs/images', `ui-${name}.png`), fullPage: false });
}
