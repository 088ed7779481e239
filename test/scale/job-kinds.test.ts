/**
 * Every job kind through a real Redis queue (issue 19): an experiment's grid points × seeds, an
 * evaluation, an Arena batch (scripted judge), an item-knowledge batch (offline source) and a
 * serving retrain, run by one in-process worker (the test is about the kinds, not processes:
 * test/scale/sweep-kill.test.ts kills worker processes) into an SQLite results store.
 *
 * Each result is checked against a second computation: the experiment points against one
 * `reclab bench`-style run of the whole file, the evaluation against hits counted by hand, the
 * Arena batch against the judge's known bias, the knowledge artifact against its own bytes, the
 * retrain against runRetrain called directly. Then idempotence: the same jobs submitted again
 * are skipped as stored, and a job's result run a second time is refused as a duplicate (a
 * retried job writes nothing twice).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { parse as yamlParse } from 'yaml';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testRedis, type TestRedis } from './harness.ts';
import { followJobs, submitJobs, type JobRequest } from '../../src/jobs/queue.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { openResults, type ResultStore } from '../../src/jobs/results.ts';
import { jobKind } from '../../src/jobs/kinds.ts';
import { planJobs } from '../../src/jobs/plan.ts';
import { validateExperiment } from '../../src/eval/config.ts';
import { runExperiment } from '../../src/experiment/runner.ts';
import { setUpExperiment } from '../../src/experiment/setup.ts';
import { runRetrain } from '../../src/serve/retrain-job.ts';
import { retrainJob, type RetrainData } from '../../src/jobs/kinds-retrain.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { newFeedback, writeBase } from '../serve/retrain-fixtures.ts';

let redis: TestRedis | { skip: string };
const dir = mkdtempSync(join(tmpdir(), 'reclab-job-kinds-'));
const artifacts = join(dir, 'artifacts');
let store: ResultStore;

beforeAll(async () => {
  redis = await testRedis();
  if ('skip' in redis) console.warn(`job-kinds: skipped: ${redis.skip}`);
  store = await openResults(`sqlite:${join(dir, 'results.db')}`);
}, 30_000);
afterAll(async () => {
  await store?.close();
  if (redis && !('skip' in redis)) await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const EXPERIMENT = `name: kinds
data: { source: "synthetic:users=150,items=80,interactions=2500,seed=5" }
split: { kind: loo }
protocol: full
metrics: [hr@10, ndcg@10]
seeds: [0, 1]
models:
  - name: pop
  - name: itemknn
    grid: { k: [5, 20] }
`;

/** Queues `jobs` on a fresh queue, runs them with one in-process worker, returns their keys. */
async function runJobs(url: string, queue: string, jobs: JobRequest[]): Promise<{ keys: string[]; outcomes: string[] }> {
  const ids = await submitJobs(url, jobs, { queue, attempts: 1 });
  const logs: string[] = [];
  const worker = startWorker(url, store, { queue, artifacts, lockMs: 5000, log: (l) => logs.push(l) });
  try {
    const followed = await followJobs(url, ids.map((x) => x.id), { queue, pollMs: 100, timeoutMs: 240_000, progress: false });
    expect(followed.failed).toEqual([]);
  } finally {
    await worker.close();
  }
  const outcomes = logs.filter((l) => /^worker .* (stored|duplicate|conflict|already stored, skipped)$/.test(l)).map((l) => l.replace(/^.* /, ''));
  return { keys: ids.map((x) => x.key), outcomes };
}

/** Runs a stored job's kind again and offers the result to the store: a faithful re-run is refused as a duplicate. */
async function rerun(job: JobRequest, key: string): Promise<string> {
  const kind = jobKind(job.kind);
  const data = kind.check(job.data);
  const result = await kind.run(data, { worker: 'rerun', artifacts, progress: async () => {}, log: () => {} });
  return store.put(key, job.kind, result, 'rerun', kind.identity?.(result) ?? result);
}

describe('job kinds on a real queue', () => {
  it('experiment: every model × grid point × seed equals the same point of a whole-file run; a re-run stores nothing', async (ctx) => {
    if ('skip' in redis) return ctx.skip();
    const file = join(dir, 'exp.yaml');
    writeFileSync(file, EXPERIMENT);
    const plan = planJobs(file);
    expect(plan.kind).toBe('experiment');
    expect(plan.jobs.length).toBe(6); // pop 1 point × 2 seeds, itemknn 2 points × 2 seeds
    const { keys, outcomes } = await runJobs(redis.url, 'kinds-exp', plan.jobs);
    expect(outcomes.filter((o) => o === 'stored').length).toBe(6);

    const whole = (await runExperiment(validateExperiment(parseYamlDoc(EXPERIMENT), file), { dryRun: true, progress: false, log: () => {} })).result;
    const got = await Promise.all(keys.map(async (k) => (await store.get(k))!.payload as { label: string; config: Record<string, unknown>; seed: number; valid: number; test: Record<string, number>; artifact: string }));
    const pop = whole.models[0];
    for (const seed of [0, 1]) expect(got.find((g) => g.label === 'pop' && g.seed === seed)!.test).toEqual(pop.runs.find((r) => r.seed === seed)!.test!.metrics);
    // The whole run validates every grid point with the first seed and tests the chosen one.
    const knn = whole.models[1];
    for (const point of knn.grid) expect(got.find((g) => g.label === 'itemknn' && g.seed === 0 && g.config.k === point.config.k)!.valid).toBe(point.valid);
    for (const r of knn.runs) expect(got.find((g) => g.label === 'itemknn' && g.seed === r.seed && g.config.k === knn.config.k)!.test).toEqual(r.test!.metrics);
    // Artifacts: named by the SHA-256 of their bytes.
    const art = join(artifacts, `${got[0].artifact}.json`);
    expect(createHash('sha256').update(readFileSync(art)).digest('hex')).toBe(got[0].artifact);

    // Submitted again (a fresh queue, so the queue's own de-duplication does not hide it): skipped as stored.
    const again = await runJobs(redis.url, 'kinds-exp-again', plan.jobs);
    expect(again.outcomes).toEqual(Array(6).fill('skipped'));
    expect(await rerun(plan.jobs[0], keys[0])).toBe('duplicate');
    expect((await store.list('exp:')).length).toBe(6);
    expect((await store.refused('exp:')).conflict ?? 0).toBe(0);
  }, 300_000);

  it('evaluate: a list file scored as counted by hand (the test item first: hit unless it is history)', async (ctx) => {
    if ('skip' in redis) return ctx.skip();
    const file = join(dir, 'exp.yaml');
    writeFileSync(file, EXPERIMENT);
    const { dataset, split } = await setUpExperiment(validateExperiment(parseYamlDoc(EXPERIMENT), file), { progress: false });
    const lines: string[] = [];
    let users = 0;
    let hits = 0;
    for (let u = 0; u < dataset.nUsers; u++) {
      const t = split.test.offsets[u];
      if (split.test.offsets[u + 1] === t) continue;
      const item = split.test.items[t];
      users++;
      const seen = (v: typeof split.train) => Array.from(v.items.subarray(v.offsets[u], v.offsets[u + 1])).includes(item);
      if (!seen(split.train) && !seen(split.valid)) hits++;
      lines.push(JSON.stringify({ user: dataset.userIds.toRaw(u), items: [dataset.itemIds.toRaw(item)] }));
    }
    const recs = join(dir, 'recs.jsonl');
    writeFileSync(recs, `${lines.join('\n')}\n`);
    const plan = planJobs(file, [], { kind: 'evaluate', recs });
    const { keys } = await runJobs(redis.url, 'kinds-eval', plan.jobs);
    const r = (await store.get(keys[0]))!.payload as { users: number; metrics: Record<string, number> };
    expect(r.users).toBe(users);
    expect(r.metrics['hr@10']).toBeCloseTo(hits / users, 12);
    expect(r.metrics['ndcg@10']).toBeCloseTo(hits / users, 12); // a hit is at rank 1
    // A changed file is refused by the job that was submitted for the old one.
    writeFileSync(recs, `${lines.slice(1).join('\n')}\n`);
    await expect(jobKind('evaluate').run(plan.jobs[0].data, { worker: 't', progress: async () => {}, log: () => {} })).rejects.toThrow(/changed since it was submitted/);
  }, 300_000);

  it('arena and knowledge batches from a jobs file: the scripted judge\'s bias, the vectors artifact by its hash', async (ctx) => {
    if ('skip' in redis) return ctx.skip();
    const item = (id: number, genre: string) => ({ id, title: `Film ${id}`, genres: [genre] });
    const users = [0, 1].map((u) => ({ user: u, label: `u${u}`, profile: 'likes drama', history: [item(9, 'Drama')] }));
    const arenaFile = join(dir, 'arena.yaml');
    writeFileSync(arenaFile, JSON.stringify({ kind: 'arena', jobs: [{ llm: 'scripted:always-a', k: 2, users, systems: [{ name: 'x', lists: [[0, [item(1, 'Drama'), item(2, 'Drama')]], [1, [item(1, 'Drama'), item(3, 'Drama')]]] }, { name: 'y', lists: [[0, [item(4, 'Comedy'), item(5, 'Comedy')]], [1, [item(4, 'Comedy'), item(6, 'Comedy')]]] }] }] }));
    const knowledgeFile = join(dir, 'knowledge.yaml');
    const films = [1, 2, 3].map((i) => ({ rawId: String(i), title: `Film ${i}`, year: 1990 + i, genres: ['Drama'] }));
    writeFileSync(knowledgeFile, JSON.stringify({ kind: 'knowledge', data: { llm: 'offline', embedder: 'hashed', items: films } }));
    const arena = planJobs(arenaFile);
    const knowledge = planJobs(knowledgeFile);
    const { keys } = await runJobs(redis.url, 'kinds-llm', [...arena.jobs, ...knowledge.jobs]);

    // A judge that always says "A" prefers each list when it is shown first: the two orders
    // disagree, so every dimension of every comparison is a tie.
    const a = (await store.get(keys[0]))!.payload as { matches: { user: number; outcome: Record<string, string> }[] };
    expect(a.matches.map((m) => m.user).sort()).toEqual([0, 1]);
    for (const m of a.matches) expect(new Set(Object.values(m.outcome))).toEqual(new Set(['tie']));

    const k = (await store.get(keys[1]))!.payload as { items: number; dim: number; artifact: string };
    expect(k.items).toBe(3);
    const bytes = readFileSync(join(artifacts, `${k.artifact}.knowledge`));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(k.artifact);
    expect(JSON.parse(bytes.subarray(0, bytes.indexOf(10)).toString()).items).toEqual(['1', '2', '3']);
    // Both re-run to the same result (the artifact's bytes included): a retry writes nothing new.
    expect(await rerun(arena.jobs[0], keys[0])).toBe('duplicate');
    expect(await rerun(knowledge.jobs[0], keys[1])).toBe('duplicate');
  }, 300_000);

  it('retrain: the outcome runRetrain gives called directly; the new bundle written once', async (ctx) => {
    if ('skip' in redis) return ctx.skip();
    const models = join(dir, 'models');
    mkdirSync(models, { recursive: true });
    await writeBase(join(models, 'base'));
    const db = join(dir, 'feedback.db');
    const fb = await SqliteStore.open(db).ready();
    await fb.insertFeedback(newFeedback(0).map((e) => ({ type: e.FeedbackType, user: e.UserId, item: e.ItemId, value: 1, time: Date.parse(e.Timestamp) / 1000 })), 'insert');
    await fb.close();
    const data: RetrainData = { root: models, serving: 'base', db: `sqlite:${db}`, out: 'retrained', upTo: 1, seed: 3, tolerance: 1, maxUsers: 100 };
    const { keys, outcomes } = await runJobs(redis.url, 'kinds-retrain', [{ kind: 'retrain', data }]);
    expect(outcomes).toEqual(['stored']);
    const r = (await store.get(keys[0]))!.payload as { outcome: string; figures: unknown; newEvents: number };
    expect(r.outcome).toBe('accepted');
    expect(existsSync(join(models, 'retrained', 'serve.json'))).toBe(true);
    const direct = await runRetrain({ ...retrainJob(data), out: 'direct' });
    expect(r.figures).toEqual(direct.figures);
    expect(r.newEvents).toBe(direct.newEvents);
    const again = await runJobs(redis.url, 'kinds-retrain-again', [{ kind: 'retrain', data }]);
    expect(again.outcomes).toEqual(['skipped']);
  }, 300_000);
});

/** The experiment YAML as an object (the test's own copy, not the file planJobs read). */
function parseYamlDoc(text: string): unknown {
  return JSON.parse(JSON.stringify(yamlParse(text)));
}
