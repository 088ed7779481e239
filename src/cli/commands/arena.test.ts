/**
 * Must-show 4: `reclab arena` end to end on ML-1M (SASRec-file ids, titles joined through
 * sas_to_original_items.txt and movies.dat) with scripted judges — models trained on the LOO
 * train part, profiles, both-order judging, report files, agreement with offline ndcg@10.
 */
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath, hasDataset } from '../../../test/shared.ts';
import { register } from './arena.ts';

const ok = hasDataset('ml-1m/ml-1m.txt') && hasDataset('ml-1m-raw-meta/movies.dat') && hasDataset('ml-1m/sas_to_original_items.txt');

async function arena(args: string[]): Promise<{ out: string; stdout: string }> {
  const out = mkdtempSync(join(tmpdir(), 'reclab-arena-'));
  const program = new Command().exitOverride();
  register(program);
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(
      ['arena', '--data', datasetPath('ml-1m/ml-1m.txt'), '--format', 'sasrec', '--items', datasetPath('ml-1m-raw-meta/movies.dat'), '--item-map', datasetPath('ml-1m/sas_to_original_items.txt'), '--out', out, '--no-cache', '--no-progress', ...args],
      { from: 'user' },
    );
  } finally {
    process.stdout.write = write;
  }
  return { out, stdout: chunks.join('') };
}

interface Report {
  run: { template: string; judge: string; systems: string[]; matches: { userLabel: string; outcome: Record<string, string>; forward: Record<string, string>; backward: Record<string, string> }[] };
  summary: { pairs: { a: string; b: string; dimensions: Record<string, { n: number; winsA: number; winsB: number; ties: number }> }[]; agreement?: { kendallTauB: number; offline: number[]; arena: number[] }; judge: { orderConsistency: { estimate: number } } };
  setup: { systems: { name: string }[]; profiles: { template: string; profile: string }[]; titles: string; offline: { values: Record<string, number> } };
  usage: { calls: number };
}

describe.skipIf(!ok)('reclab arena on ML-1M (scripted judges)', () => {
  it('transition vs pop with a position-free judge: report, ratings and ndcg@10 agreement', async () => {
    const { out, stdout } = await arena(['--a', 'transition', '--b', 'pop', '--judge', 'scripted:genre-overlap', '--users', '16', '--seed', '42']);
    for (const f of ['arena.json', 'arena.md', 'arena-winrates.svg', 'arena-ratings.svg']) expect(existsSync(join(out, f))).toBe(true);
    const r = JSON.parse(readFileSync(join(out, 'arena.json'), 'utf8')) as Report;
    expect(r.run.template).toBe('arena-judge@1');
    expect(r.run.systems).toEqual(['transition', 'pop']);
    expect(r.run.matches).toHaveLength(16);
    expect(r.usage.calls).toBe(32); // 16 users × 2 orders
    expect(r.setup.titles).toContain('sas_to_original_items.txt');
    expect(r.setup.profiles[0].template).toBe('profile@1');
    const overall = r.summary.pairs[0].dimensions.overall;
    expect(overall.winsA + overall.winsB + overall.ties).toBe(16);
    // The counts are the both-orders rule applied to the raw verdicts in the file.
    const recount = { a: 0, b: 0, tie: 0 };
    for (const m of r.run.matches) recount[m.forward.overall === 'A' && m.backward.overall === 'B' ? 'a' : m.forward.overall === 'B' && m.backward.overall === 'A' ? 'b' : 'tie']++;
    expect([overall.winsA, overall.winsB, overall.ties]).toEqual([recount.a, recount.b, recount.tie]);
    // A position-free judge never contradicts itself across orders.
    expect(r.summary.judge.orderConsistency.estimate).toBe(1);
    // Offline ndcg@10 on the full LOO test: the transition heuristic beats popularity.
    const off = r.setup.offline.values;
    expect(off.transition).toBeGreaterThan(off.pop);
    expect(off.pop).toBeGreaterThan(0.005);
    const ag = r.summary.agreement!;
    // Two systems: τ-b is +1 when the rankings agree, −1 when they disagree, undefined (null in JSON) on a rating tie.
    const expected = ag.arena[0] === ag.arena[1] ? null : Math.sign((ag.arena[0] - ag.arena[1]) * (ag.offline[0] - ag.offline[1]));
    expect(ag.kendallTauB).toBe(expected);
    const md = readFileSync(join(out, 'arena.md'), 'utf8');
    expect(md).toContain('## Bradley–Terry ratings');
    expect(md).toContain('Kendall τ-b');
    expect(readFileSync(join(out, 'arena-winrates.svg'), 'utf8')).toMatch(/^<svg/);
    expect(stdout).toContain('transition vs pop');
  }, 120_000);

  it('a judge that always answers "A" gives only ties on real lists', async () => {
    const { out } = await arena(['--a', 'pop', '--b', 'transition', '--judge', 'scripted:always-a', '--users', '6', '--no-offline']);
    const r = JSON.parse(readFileSync(join(out, 'arena.json'), 'utf8')) as Report;
    for (const m of r.run.matches) for (const o of Object.values(m.outcome)) expect(o).toBe('tie');
    expect(r.summary.pairs[0].dimensions.overall).toMatchObject({ n: 6, winsA: 0, winsB: 0, ties: 6 });
    expect(r.summary.agreement).toBeUndefined();
  }, 120_000);
});
