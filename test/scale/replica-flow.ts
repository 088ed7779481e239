/**
 * Must-show 2 of issue 19 as one function, shared by the test and the bench: two `reclab serve`
 * replicas on one PostgreSQL database and one Redis channel.
 *   - feedback posted to A changes the user's recommendations on B: the time from A's
 *     acknowledgement to the first answer of B without the item;
 *   - a swap asked once (PUT /api/model on A) while both replicas are under load: every request
 *     is counted, failures (non-200 or network errors) too, and both replicas' readiness must name
 *     the new model when the PUT returns.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { writeWideBundle, tempDir } from '../serve/fixtures.ts';
import { reclab, stopChild, type Child } from './harness.ts';

/** A fresh database on the server at `url` (dropped by the returned function). */
export async function freshDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `reclab_scale_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Two replicas over `db` and `redis`, serving bundles m1 (CURRENT) and m2 from one folder. */
export async function startReplicas(db: string, redis: string, n = 2): Promise<{ urls: string[]; children: Child[]; models: string; channel: string }> {
  const models = tempDir('reclab-replicas-');
  for (const name of ['m1', 'm2']) {
    mkdirSync(join(models, name), { recursive: true });
    await writeWideBundle(join(models, name), 200);
  }
  writeFileSync(join(models, 'CURRENT'), 'm1\n');
  const channel = `reclab:test:${process.pid}:${Date.now()}`;
  const children: Child[] = [];
  const urls: string[] = [];
  // One after the other: the first creates the store's schema.
  for (let r = 0; r < n; r++) {
    const c = reclab(['serve', '--models', models, '--db', db, '--port', '0', '--host', '127.0.0.1', '--rate-limit', '0', '--replicas', redis, '--replica-channel', channel]);
    children.push(c);
    urls.push((await c.waitFor(/listening on (http:\/\/[\d.]+:\d+)/))[1]);
  }
  return { urls, children, models, channel };
}

/** The items recommended to `user` by the replica at `url`. */
async function recommend(url: string, user: string): Promise<string[]> {
  const r = await fetch(`${url}/api/recommend/${user}?n=10`);
  if (r.status !== 200) throw new Error(`${url}: recommend ${r.status} ${await r.text()}`);
  return (await r.json()) as string[];
}

/** The model version a replica's readiness reports. */
export async function readyModel(url: string): Promise<string> {
  const r = await fetch(`${url}/health/ready`);
  return ((await r.json()) as { model: string }).model;
}

/** What the flow measured. */
export interface ReplicaResult {
  /** ms from A's acknowledgement of the feedback to B's first answer without the item. */
  feedbackVisibleMs: number;
  swap: { requests: number; failed: number; putMs: number; versions: string[] };
}

/** Runs both checks on running replicas `urls` (A = urls[0], B = urls[1]). */
export async function replicaChecks(urls: string[]): Promise<ReplicaResult> {
  const [a, b] = urls;
  const user = 'heavy';
  const before = await recommend(b, user);
  const item = before[0];
  const posted = await fetch(`${a}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ FeedbackType: 'read', UserId: user, ItemId: item }]) });
  if (posted.status !== 200) throw new Error(`feedback: ${posted.status} ${await posted.text()}`);
  const acked = performance.now();
  let feedbackVisibleMs = Infinity;
  while (performance.now() - acked < 5000) {
    if (!(await recommend(b, user)).includes(item)) {
      feedbackVisibleMs = performance.now() - acked;
      break;
    }
  }

  // Load on both replicas while the swap runs: 8 loops, each request counted.
  let stop = false;
  let requests = 0;
  let failed = 0;
  const loop = async (url: string) => {
    while (!stop) {
      requests++;
      try {
        const r = await fetch(`${url}/api/recommend/u${requests % 50}?n=10`);
        await r.arrayBuffer();
        if (r.status !== 200) failed++;
      } catch {
        failed++;
      }
    }
  };
  const loops = Array.from({ length: 8 }, (_, i) => loop(urls[i % urls.length]));
  await new Promise((r) => setTimeout(r, 500));
  const t = performance.now();
  const put = await fetch(`${a}/api/model`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'm2' }) });
  const putMs = performance.now() - t;
  if (put.status !== 200) throw new Error(`swap: ${put.status} ${await put.text()}`);
  const versions = await Promise.all(urls.map(readyModel));
  await new Promise((r) => setTimeout(r, 500));
  stop = true;
  await Promise.all(loops);
  return { feedbackVisibleMs, swap: { requests, failed, putMs, versions } };
}

/** Stops replicas. */
export async function stopReplicas(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => stopChild(c)));
}
