/**
 * Issue 19, must-show 5: acknowledged feedback is never lost when a replica dies. Two replicas on
 * one PostgreSQL take feedback from several writers; replica A is killed with SIGKILL in the
 * middle; afterwards every event a replica acknowledged (HTTP 200) is in the store. Writers of A
 * see their connection fail — those events were not acknowledged and may or may not be stored.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { useReplicas } from './replica-suite.ts';

const suite = useReplicas('replica-kill');

describe('replica killed under feedback', () => {
  it('keeps every acknowledged event', async (ctx) => {
    const set = suite();
    if (!set) return ctx.skip();
    const { replicas, db } = set;
    const acked: string[] = [];
    let failed = 0;
    let stop = false;
    let seq = 0;
    const writer = async (url: string, w: number) => {
      while (!stop) {
        const batch = Array.from({ length: 10 }, () => ({ FeedbackType: 'read', UserId: `k${w}`, ItemId: `w${seq++ % 200}`, Timestamp: new Date(Date.UTC(2020, 0, 1) + seq * 1000).toISOString() }));
        try {
          const r = await fetch(`${url}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
          await r.arrayBuffer();
          if (r.status === 200) acked.push(...batch.map((e) => `${e.UserId}|${e.ItemId}|${Date.parse(e.Timestamp) / 1000}`));
          else failed++;
        } catch {
          failed++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(replicas.urls[w % 2], w));
    await new Promise((r) => setTimeout(r, 1500));
    const victim = replicas.children[0];
    victim.proc.kill('SIGKILL');
    await victim.exited;
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(writers);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const rows = (await c.query<{ user_id: string; item_id: string; time: number }>('SELECT user_id, item_id, time FROM feedback')).rows;
    await c.end();
    // The store keeps times as numbers (seconds or ms): compare in whole seconds.
    const stored = new Set(rows.map((r) => `${r.user_id}|${r.item_id}|${Math.round(Number(r.time) > 1e11 ? Number(r.time) / 1000 : Number(r.time))}`));
    const lost = acked.filter((k) => !stored.has(k));
    console.log(`replica-kill: ${acked.length} events acknowledged, ${rows.length} rows stored, ${failed} requests failed (the killed replica's), ${lost.length} acknowledged events missing`);
    expect(acked.length).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0); // the kill landed under load
    expect(lost).toEqual([]);
  }, 120_000);
});
