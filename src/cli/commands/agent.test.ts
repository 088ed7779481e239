/**
 * `reclab agent` end to end on ML-100K: a scripted agent (exact, instant), the same run replayed
 * from its recording, the rating task's RMSE/MAE recomputed here from the split, the explanation
 * task, and — with RECLAB_LLM_BASE_URL set — a real OpenAI-compatible endpoint.
 */
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetPath, hasDataset } from '../../../test/shared.ts';
import { loadLlmData, sampleUsers } from '../../llmrec/setup.ts';
import type { Trajectory } from '../../agents/trajectory.ts';
import { register } from './agent.ts';

const ok = hasDataset('ml-100k/u.data');
const DATA = ['--data', datasetPath('ml-100k/u.data'), '--format', 'ml-100k'];

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

const readTrajectories = (path: string): Trajectory[] => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Trajectory);

describe.skipIf(!ok)('reclab agent on ML-100K', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-agent-'));

  it('rerank with a scripted agent: validity statistics, metrics from the trajectories, and the same run replayed from its recording', async () => {
    const rec = join(dir, 'rec.jsonl');
    const args = ['agent', '--task', 'rerank', ...DATA, '--users', '5', '--mode', 'direct', '--no-cache', '--no-progress'];
    const out1 = await reclab([...args, '--llm', 'scripted:agent-shown-order', '--record', rec, '--out', join(dir, 'a.jsonl')]);
    // Direct mode: user_history then finish, per user: 10 calls, all valid.
    expect(out1).toContain('5 instances, 5 answered validly, 0 forced');
    expect(out1).toContain('tool calls: 10 calls, 10 valid (100.0 %)');
    // Rewards by hand: the history step's result never contains the 20 candidate ids in order
    // enough to reach 0.3 of its tokens, so (1 + 0)/2; the finish step is solved: 1 → mean 0.75.
    expect(out1).toContain('mean step reward (StepTool rules): 0.7500');
    const ts = readTrajectories(join(dir, 'a.jsonl'));
    expect(ts).toHaveLength(5);
    // HR@10 recomputed from the trajectories: the target is the candidate whose id the split held out — its position in the answer.
    const data = await loadLlmData({ data: datasetPath('ml-100k/u.data'), format: 'ml-100k' }, false);
    const users = sampleUsers(data.split.test, 5, 42);
    let hits = 0;
    for (const [i, u] of [...users].entries()) {
      const target = data.dataset.itemIds.toRaw(data.split.test.items[data.split.test.offsets[u]]);
      expect(ts[i].instance).toBe(`user ${data.dataset.userIds.toRaw(u)}`);
      if ((ts[i].answer as string[]).indexOf(target) < 10) hits++;
    }
    expect(out1).toContain(`hr@10 ${(hits / 5).toFixed(4)}`);
    const out2 = await reclab([...args, '--llm', `replay:${rec}`, '--out', join(dir, 'b.jsonl')]);
    const body = (s: string) => s.split('\n').filter((l) => /tool calls|metrics|reward|instances/.test(l)).map((l) => l.replace(/\(direct, [^)]*\)/, ''));
    expect(body(out2)).toEqual(body(out1));
  });

  it('rating: RMSE and MAE of the scripted constant 4 equal those recomputed from the held-out ratings', async () => {
    const out = await reclab(['agent', '--task', 'rating', ...DATA, '--users', '6', '--mode', 'direct', '--llm', 'scripted:agent-shown-order', '--no-cache', '--no-progress', '--out', join(dir, 'r.jsonl')]);
    const data = await loadLlmData({ data: datasetPath('ml-100k/u.data'), format: 'ml-100k' }, false);
    const t = data.split.test;
    const truth = [...sampleUsers(t, 6, 42)].map((u) => t.values![t.offsets[u]]);
    const rmse = Math.sqrt(truth.reduce((s, r) => s + (4 - r) ** 2, 0) / truth.length);
    const mae = truth.reduce((s, r) => s + Math.abs(4 - r), 0) / truth.length;
    expect(out).toContain(`rmse ${rmse.toFixed(4)}`);
    expect(out).toContain(`mae ${mae.toFixed(4)}`);
  });

  it('explain (MACRec mode: the manager delegates to the user analyst)', async () => {
    const out = await reclab(['agent', '--task', 'explain', ...DATA, '--users', '3', '--llm', 'scripted:agent-shown-order', '--no-cache', '--no-progress', '--out', join(dir, 'e.jsonl')]);
    // Per user: analyse_user (+ the analyst's finish) then finish: 3 calls.
    expect(out).toContain('tool calls: 9 calls, 9 valid (100.0 %)');
    expect(out).toContain('non_empty 1.0000');
    expect(readTrajectories(join(dir, 'e.jsonl'))[0].trials[0].steps[0].sub?.agent).toBe('user-analyst');
  });

  it('the recorded run of the tiny GGUF model (stories260K) replays: nonsense actions, all rejected by the rule layer, fallback answers', async () => {
    // Recorded with: reclab agent --task rerank --data ../shared/datasets/ml-100k/u.data --format ml-100k
    //   --llm gguf:../shared/models/stories260K.gguf --users 5 --no-cache --record <file> --concurrency 1 --threads 1
    // A change to the agent prompts or tool list changes the requests: re-record then (docs/agents.md).
    const rec = fileURLToPath(new URL('../../../test/agents/stories260K-rerank-5users.rec.jsonl', import.meta.url));
    const out = await reclab(['agent', '--task', 'rerank', ...DATA, '--users', '5', '--llm', `replay:${rec}`, '--no-cache', '--no-progress', '--out', join(dir, 'g.jsonl')]);
    expect(out).toContain('5 instances, 0 answered validly, 5 forced (fallback answer)');
    expect(out).toContain('tool calls: 50 calls, 0 valid (0.0 %); rejected: unparseable 2, unknown_tool 48');
    // 50 steps: 45 rejected steps score 0, each user's last step the status "unsure" 0.5 → 5 · 0.5 / 50.
    expect(out).toContain('mean step reward (StepTool rules): 0.0500');
  });

  it('bad flags are clear errors', async () => {
    await expect(reclab(['agent', '--task', 'summarise', ...DATA, '--llm', 'scripted:agent-shown-order'])).rejects.toThrow('--task: expected one of rerank, rating, explain, got "summarise"');
  });

  const base = process.env.RECLAB_LLM_BASE_URL;
  it.skipIf(!base)('a real OpenAI-compatible endpoint (RECLAB_LLM_BASE_URL, model RECLAB_LLM_MODEL)', async () => {
    const model = process.env.RECLAB_LLM_MODEL ?? 'default';
    const out = await reclab(['agent', '--task', 'rerank', ...DATA, '--users', '2', '--candidates', '8', '--max-steps', '5', '--mode', 'direct', '--llm', `openai:${model}`, '--no-cache', '--no-progress', '--out', join(dir, 'real.jsonl')]);
    expect(out).toMatch(/tool calls: \d+ calls, \d+ valid/);
    expect(readTrajectories(join(dir, 'real.jsonl'))).toHaveLength(2);
  }, 600_000);
});
