/**
 * `reclab arena --judge-method reviseval|cce` end to end on ML-100K with scripted judges: the
 * order-swap rule still holds (always-A → only ties), the method's figures reach stdout, arena.md
 * and arena.json, and CCE counts its crowd comparisons (users × 2 orders × 2 candidates × crowd).
 */
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath, hasDataset } from '../../../test/shared.ts';
import { register } from './arena.ts';

const ok = hasDataset('ml-100k/u.data');

async function arena(args: string[]): Promise<{ out: string; stdout: string }> {
  const out = mkdtempSync(join(tmpdir(), 'reclab-arena-m-'));
  const program = new Command().exitOverride();
  register(program);
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['arena', '--data', datasetPath('ml-100k/u.data'), '--format', 'ml-100k', '--a', 'pop', '--b', 'itemknn', '--users', '4', '--no-offline', '--no-cache', '--no-progress', '--bootstrap', '50', '--out', out, ...args], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return { out, stdout: chunks.join('') };
}

describe.skipIf(!ok)('reclab arena judge methods on ML-100K (scripted judges)', () => {
  it('reviseval: always-A still gives only ties; ROUGE-L/BLEU against the references are reported', async () => {
    const { out, stdout } = await arena(['--judge', 'scripted:always-a', '--judge-method', 'reviseval']);
    expect(stdout).toContain('judge method reviseval');
    expect(stdout).toContain('pop vs itemknn: 0 / 0 / 4 (wins / wins / ties)');
    // The scripted reviser returns the response unchanged: the list shown second scores ROUGE-L 1 against its own reference.
    const run = JSON.parse(readFileSync(join(out, 'arena.json'), 'utf8')) as { run: { method: { name: string }; matches: { method: { forward: { rougeL: number[] } } }[] }; judgeMethod: { name: string } };
    expect(run.run.method.name).toBe('reviseval');
    expect(run.judgeMethod.name).toBe('reviseval');
    for (const m of run.run.matches) expect(m.method.forward.rougeL[1]).toBe(1);
    expect(readFileSync(join(out, 'arena.md'), 'utf8')).toContain('## Judge method: reviseval (overall verdict by llm)');
  });

  it('reviseval with the ROUGE-L scorer: the list shown second always matches its own unchanged reference → B in both orders → ties', async () => {
    const { stdout } = await arena(['--judge', 'scripted:genre-overlap', '--judge-method', 'reviseval', '--revise-scorer', 'rouge-l']);
    expect(stdout).toContain('pop vs itemknn: 0 / 0 / 4 (wins / wins / ties)');
  });

  it('cce: crowd comparisons counted (4 users × 2 orders × 2 candidates × 1 crowd = 16, none kept by the neutral comparer)', async () => {
    const { stdout } = await arena(['--judge', 'scripted:always-a', '--judge-method', 'cce', '--crowd', 'scripted:coin']);
    expect(stdout).toContain('CCE: 0 of 16 crowd comparisons kept');
    expect(stdout).toContain('pop vs itemknn: 0 / 0 / 4 (wins / wins / ties)');
  });

  it('cce without --crowd is a clear error', async () => {
    await expect(arena(['--judge', 'scripted:always-a', '--judge-method', 'cce'])).rejects.toThrow('--judge-method cce needs at least one --crowd <provider>');
  });
});

describe.skipIf(!ok)('reclab arena --human-votes (scripted judge, hand-built votes)', () => {
  it("reports the method's Cohen's κ against people's votes on the same pairs, as worked out by hand", async () => {
    // First run: which users the Arena samples (its pool), so the votes name the same pairs.
    const first = await arena(['--judge', 'scripted:always-a', '--judge-method', 'reviseval']);
    const pool = (JSON.parse(readFileSync(join(first.out, 'arena.json'), 'utf8')) as { pool: { users: { user: number }[] } }).pool;
    const users = pool.users.map((u) => u.user);
    expect(users).toHaveLength(4);
    // Always-A under the order swap gives 4 ties. People: tie, a, tie, b (+ one skip, not counted).
    // By hand: observed agreement 2/4 = 0.5; expected = P_h(tie)·P_llm(tie) = 0.5 · 1 = 0.5; κ = 0.
    const choices = ['tie', 'a', 'tie', 'b'] as const;
    const votes = users.map((user, i) => ({ voter: 'v1', user, a: 'pop', b: 'itemknn', choice: choices[i], left: 'pop', time: 1 }));
    votes.push({ voter: 'v2', user: users[0], a: 'pop', b: 'itemknn', choice: 'skip' as never, left: 'itemknn', time: 2 });
    const file = join(first.out, 'votes.jsonl');
    writeFileSync(file, votes.map((v) => JSON.stringify(v)).join('\n') + '\n');
    const { out, stdout } = await arena(['--judge', 'scripted:always-a', '--judge-method', 'reviseval', '--human-votes', file]);
    expect(stdout).toContain("human agreement of judge method reviseval: Cohen's κ 0.000, agreement 50.0 % over 4 pairs judged by both (4 votes from 1 voters)");
    const saved = JSON.parse(readFileSync(join(out, 'human-agreement.json'), 'utf8')) as { agreement: { kappa: number; observed: number; expected: number } };
    expect(saved.agreement.observed).toBe(0.5);
    expect(saved.agreement.expected).toBe(0.5);
  });

  it('a bad votes file is refused before any LLM call, naming file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reclab-votes-'));
    const file = join(dir, 'votes.jsonl');
    writeFileSync(file, '{"voter":"v","user":1,"a":"pop","b":"itemknn","choice":"tie","left":"pop","time":1}\n{"voter":"v","user":2,"a":"pop","b":"itemknn","choice":"maybe","left":"pop","time":1}\n');
    await expect(arena(['--judge', 'scripted:always-a', '--human-votes', file])).rejects.toThrow(`${file}:2: field "choice"`);
  });
});
