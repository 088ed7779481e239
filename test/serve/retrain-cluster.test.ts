/**
 * The production loop in cluster mode (`reclab serve --workers 2 --retrain-every …`, the real
 * CLI as a child process): the primary runs the schedule once for the cluster, an accepted
 * candidate is served by every worker, and the admin routes of any worker drive the primary's
 * loop (its record, a rollback that every worker follows). Data: retrain-fixtures.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from './fixtures.ts';
import { NEW, newFeedback, writeBase } from './retrain-fixtures.ts';
import { Retrainer } from '../../src/serve/retrain.ts';

const KEY = 'cluster-k3y';
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('the retrainer before a model serves', () => {
  it('rejects (never throws) when no model serves yet: a schedule tick during a slow first load must not crash the process', async () => {
    const root = tempDir('reclab-retrain-none-');
    const r = new Retrainer({ root, serving: () => undefined }, { db: 'sqlite::memory:', every: 0, holdout: 0.1, tolerance: 0, minNew: 1, negativeTypes: [], readTypes: [] }, async () => {}, () => {});
    let result: Promise<unknown> | undefined;
    expect(() => (result = r.run('schedule'))).not.toThrow();
    await expect(result).rejects.toThrow(/no model is serving/);
    expect(r.busy).toBe(false);
  });
});

describe('reclab serve --workers 2 --retrain-every', () => {
  it('retrains in the primary on schedule, every worker serves the accepted model, admin routes reach the primary', async () => {
    const root = tempDir('reclab-retrain-cluster-');
    const models = join(root, 'models');
    mkdirSync(models);
    await writeBase(join(models, 'base'));
    const db = `sqlite:${join(root, 'store.db')}`;
    const args = ['serve', '--models', models, '--db', db, '--port', '0', '--rate-limit', '0', '--workers', '2', '--api-key', KEY];
    child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'reclab.js'), ...args, '--retrain-every', '3s', '--retrain-holdout', '0.2'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const waitFor = async (re: RegExp, timeoutMs = 150_000): Promise<RegExpExecArray> => {
      for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; ) {
        const m = re.exec(err);
        if (m) return m;
        if (child!.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no ${re}; stderr:\n${err}`);
    };
    const url = (await waitFor(/listening on (http:\/\/[\d.]+:\d+) \(primary pid/))[1];
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    /** `n` answers for `user` (spread over both workers by the cluster's round robin): version and ids of each. */
    const answers = async (user: string, n: number) => {
      const out: { version: string; ids: string[] }[] = [];
      for (let k = 0; k < n; k++) {
        const r = (await call('GET', `/api/recommend/${user}?n=4&format=reclab`)).json as { Model: { Version: string }; Items: { ItemId: string }[] };
        out.push({ version: r.Model.Version, ids: r.Items.map((i) => i.ItemId) });
      }
      return out;
    };

    expect((await call('POST', '/api/feedback', newFeedback(0))).status).toBe(200);
    await call('POST', '/api/feedback', [
      { FeedbackType: 'click', UserId: 'probe', ItemId: 'g0i0', Timestamp: '2024-06-01' },
      { FeedbackType: 'click', UserId: 'probe', ItemId: 'n0', Timestamp: '2024-06-02' },
    ]);

    // The schedule fires in the primary; the coordinator then has both workers load the bundle.
    const accepted = await waitFor(/retrain #\d+ \(schedule\) of base: accepted, now serving (\S+)/);
    const bundle = accepted[1];
    await waitFor(new RegExp(`all 2 workers now serve \\S+ ${bundle}@`));
    for (const a of await answers('probe', 8)) {
      expect(a.version.startsWith(`${bundle}@`)).toBe(true);
      expect(a.ids.slice(0, 2).sort()).toEqual(['n1', 'n4']);
    }
    // One loop for the cluster: every scheduled retrain is the primary's (one log line each, ids in order).
    const scheduled = [...err.matchAll(/retrain #(\d+) \(schedule\)/g)].map((m) => Number(m[1]));
    expect(scheduled).toEqual(scheduled.map((_, i) => i + 1));

    // The record and a rollback, through whichever worker answers.
    const history = (await call('GET', '/api/model/retrains')).json as { Retrains: { outcome: string; bundle?: string; swapped: boolean }[] };
    expect(history.Retrains.some((r) => r.outcome === 'accepted' && r.swapped && r.bundle === bundle)).toBe(true);
    let rollback = await call('POST', '/api/model/rollback');
    // The schedule may be running its next retrain (which refuses a rollback): try again shortly.
    for (let k = 0; rollback.status === 409 && k < 100; k++) {
      await new Promise((r) => setTimeout(r, 200));
      rollback = await call('POST', '/api/model/rollback');
    }
    expect(rollback.status, JSON.stringify(rollback.json)).toBe(200);
    expect(rollback.json).toEqual({ From: bundle, To: 'base' });
    for (const a of await answers('probe', 6)) {
      expect(a.version).toMatch(/^base@/);
      expect(a.ids.filter((id) => NEW.includes(id))).toEqual([]);
    }

    const exit = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    console.log(err.split('\n').filter((l) => /retrain #|rollback|workers now serve/.test(l)).join('\n'));
  }, 240_000);
});
