/**
 * Must-show 1 of issue 25: `reclab llmrec compare` on ML-100K with two scripted LLMs and two
 * reclab models on identical candidates — the table, the K-S line, p-values, and the identity
 * ranker's maximal position bias with p < 0.01.
 */
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath, hasDataset } from '../../../test/shared.ts';
import { register, splitSpecs } from './llmrec.ts';

const ok = hasDataset('ml-100k/u.data');

async function reclab(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

describe('splitSpecs', () => {
  it('splits at commas outside JSON configs', () => {
    expect(splitSpecs('pop,itemknn')).toEqual(['pop', 'itemknn']);
    expect(splitSpecs('pop, sasrec:{"a":1,"b":[2,3]},itemknn')).toEqual(['pop', 'sasrec:{"a":1,"b":[2,3]}', 'itemknn']);
  });
});

describe.skipIf(!ok)('reclab llmrec compare on ML-100K (scripted LLMs)', () => {
  it('prints both LLM rows and both model rows on identical candidates, the K-S line and p-values', async () => {
    const out = mkdtempSync(join(tmpdir(), 'reclab-compare-'));
    const stdout = await reclab([
      'llmrec', 'compare', '--data', datasetPath('ml-100k/u.data'), '--format', 'ml-100k',
      '--llm', 'scripted:genre-ranker', '--llm', 'scripted:identity-ranker', '--models', 'pop,itemknn',
      '--users', '50', '--candidates', '20', '--no-cache', '--no-progress', '--out', out,
    ]);
    for (const row of ['pop | model | 50', 'itemknn | model | 50', 'scripted:genre-ranker | llm | 50', 'scripted:identity-ranker | llm | 50']) expect(stdout).toContain(`| ${row} |`);
    expect(stdout).toMatch(/K-S check of the sampled negatives against uniform over each user's unseen items .*: D = 0\.\d{4}, n = 950, p = \d\.\d{4} → consistent with the intended distribution/);
    expect(stdout).toContain('| Δndcg@10 vs pop | p (Wilcoxon) |');
    // The identity ranker: target first → ndcg 1 for all 50 users, last → 0: maximal gap, p < 0.01.
    const m = /## Conditions of scripted:identity-ranker[\s\S]*?Position bias: ndcg@10\(target first\) − ndcg@10\(target last\) = \+1\.0000 \(maximal\); Wilcoxon p = ([\d.e-]+); exact sign test 50 of 50 users, p = ([\d.e-]+)\./.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(0.01);
    // Sign test by hand: 2 / 2⁵⁰.
    expect(Number(m![2])).toBeCloseTo(2 / 2 ** 50, 16);
    const r = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as {
      candidates: { user: string; dense: number; target: number; negatives: number[] }[];
      records: Record<string, { user: number; condition: string; candidates: number[]; target: number }[]>;
      rows: { system: string; metrics: Record<string, number>; vsBaseline?: { p: number } }[];
      candidateCheck: { p: number; n: number };
    };
    // Identical candidates: every LLM request shows exactly the user's sampled set.
    const sets = new Map(r.candidates.map((c) => [c.dense, new Set([c.target, ...c.negatives])]));
    for (const recs of Object.values(r.records)) {
      expect(recs.length).toBe(50 * 9);
      for (const rec of recs) {
        const s = sets.get(rec.user)!;
        expect(rec.candidates).toHaveLength(20);
        for (const c of rec.candidates) expect(s.has(c)).toBe(true);
      }
    }
    expect(r.rows.map((x) => x.system)).toEqual(['pop', 'itemknn', 'scripted:genre-ranker', 'scripted:identity-ranker']);
    for (const row of r.rows.slice(1)) expect(row.vsBaseline!.p).toBeGreaterThanOrEqual(0);
    // The identity ranker returns every candidate: no hallucination, full lists.
    expect(r.rows[3].metrics.hallucination).toBe(0);
    expect(r.candidateCheck.n).toBe(950);
  }, 300_000);
});
