import { describe, expect, it } from 'vitest';
import { IdMap, type Dataset } from '../data/types.ts';
import { LLMClient, ScriptedProvider, type ChatRequest } from '../llm/index.ts';
import type { ItemCatalogue } from '../llmrec/catalogue.ts';
import type { Recommender } from '../models/recommender.ts';
import { managerTools, roleTemplate, runTasks, taskMetrics } from './macrec.ts';
import { datasetIds, type AgentData } from './reclab-tools.ts';
import { lcsLength, rankByReward, scoreTrajectory, tokens } from './rewards.ts';
import { LAST_STEP_HINT, runAgent, type AgentTask } from './runtime.ts';
import { permutationProblem, ratingMetrics, rerankMetrics, type TaskInstance } from './tasks.ts';
import { z } from 'zod';
import { RawId } from './tools.ts';
import { CallStats } from './verify.ts';

// Two users ("7", "8") and six items ("101".."106", dense 0..5). User 7 rated 101 (5), 102 (4), 103 (3); user 8 rated 104 (2), 105 (4).
const dataset: Dataset = {
  name: 'tiny',
  nUsers: 2,
  nItems: 6,
  offsets: Int32Array.of(0, 3, 5),
  items: Int32Array.of(0, 1, 2, 3, 4),
  times: Float64Array.of(1, 2, 3, 4, 5),
  values: Float32Array.of(5, 4, 3, 2, 4),
  userIds: IdMap.fromRaw(['7', '8']),
  itemIds: IdMap.fromRaw(['101', '102', '103', '104', '105', '106']),
  hasTime: true,
  fingerprint: 'tiny',
  provenance: { source: 'test', format: 'test', preparation: {} },
};
const catalogue: ItemCatalogue = {
  n: 6,
  titles: ['Alpha (1990)', 'Beta (1991)', 'Gamma (1992)', 'Delta (1993)', 'Epsilon (1994)', 'Zeta (1995)'],
  genres: [['Drama'], ['Drama'], ['Drama'], ['Comedy'], ['Comedy'], ['Comedy']],
  source: 'test',
};
// A stand-in model scoring item i with i: it ranks "106" > "105" > "104".
const model = { nItems: 6, scoreUsers: (users: Int32Array, _h: unknown, out: Float32Array) => out.forEach((_, j) => (out[j] = j % 6)) } as unknown as Recommender;
const data: AgentData = { dataset, history: dataset, catalogue, model };

const candidates = ['104', '105', '106'];
const rerank = (): TaskInstance<string[]> => ({
  name: 'rerank',
  instance: 'user 7',
  user: 0,
  target: 5,
  candidates,
  statement: 'Rank items 104, 105, 106 for user 7.',
  answer: z.array(RawId),
  validate: (a) => permutationProblem(a, candidates),
  fallback: () => candidates.slice(),
});

type Reply = { thought?: string; tool: string; args?: unknown };
/** A client whose replies are the transcript, one per call. */
function scripted(replies: readonly (Reply | Record<string, unknown>)[]): { client: LLMClient; provider: ScriptedProvider } {
  const provider = new ScriptedProvider('transcript', (_r: ChatRequest, i: number) => {
    if (i >= replies.length) throw new Error(`transcript has ${replies.length} replies, call ${i + 1} asked`);
    return { thought: 'step', ...replies[i] };
  });
  return { client: new LLMClient(provider), provider };
}
const manager = (client: LLMClient) => ({ name: 'manager', client, template: roleTemplate('manager', {}) });
const direct = (stats: CallStats) => managerTools(data, { client: undefined as never, mode: 'direct' }, stats);

describe('agent transcripts (scripted LLM)', () => {
  it('analyse → finish: two valid calls, then the answer; rewards 0.5, 1, 1', async () => {
    const { client } = scripted([
      { tool: 'user_history', args: { user_id: '7', k: 1 } },
      { tool: 'rank', args: { user_id: 7, item_ids: ['104', '105', '106'] } },
      { tool: 'finish', args: { answer: ['106', '105', '104'] } },
    ]);
    const stats = new CallStats();
    const t = await runAgent(rerank(), { role: manager(client), tools: direct(stats), ids: datasetIds(dataset), stats });
    expect(t.status).toBe('solved');
    expect(t.answer).toEqual(['106', '105', '104']);
    expect(t.trials[0].steps[0].result).toEqual({ user_id: '7', history: [{ item_id: '103', title: 'Gamma (1992)', genres: ['Drama'], rating: 3 }] });
    expect(t.trials[0].steps[1].result).toEqual({ user_id: '7', ranking: ['106', '105', '104'] });
    expect(stats.toJSON()).toEqual({ calls: 3, valid: 3, validity: 1, errors: {} });
    // Step 1: success, result tokens user id 7 history item id 103 title gamma 1992 genres drama rating 3 (14), no answer id among them → (1 + 0) / 2.
    // Step 2: result tokens user id 7 ranking 106 105 104 (7); LCS with the answer 106 105 104 is 3; 3/7 ≥ 0.3 → (1 + 1) / 2 = 1. Step 3: solved → 1.
    expect(scoreTrajectory(t)).toEqual([0.5, 1, 1]);
    expect(t.trials[0].steps[1].reward!.overlap).toBeCloseTo(3 / 7, 12);
    expect(t.meanReward).toBeCloseTo(2.5 / 3, 12);
  });

  it('invalid calls are rejected by the rule layer (no run, structured error back), then corrected', async () => {
    const { client, provider } = scripted([
      { tool: 'user_profile', args: { user_id: '7' } },
      { tool: 'user_history', args: { user_id: '7', k: 500 } },
      { tool: 'user_history', args: { user_id: ['7'] } },
      { tool: 'item_info', args: { item_id: '999' } },
      { tool: 'item_info', args: {} },
      { tool: 'item_info', args: { item_id: '106', extra: true } },
      { tool: 'item_info', args: { item_id: '106' } },
      { tool: 'finish', args: { answer: ['106', '104', '105'] } },
    ]);
    const stats = new CallStats();
    const t = await runAgent(rerank(), { role: manager(client), tools: direct(stats), ids: datasetIds(dataset), stats });
    const kinds = t.trials[0].steps.map((s) => s.error?.kind ?? 'ok');
    expect(kinds).toEqual(['unknown_tool', 'out_of_range', 'wrong_type', 'unknown_id', 'missing_argument', 'unknown_argument', 'ok', 'ok']);
    expect(t.trials[0].steps[3].error).toMatchObject({ field: 'item_id', message: 'item_info: argument "item_id": no item with id "999"' });
    expect(t.trials[0].steps.slice(0, 6).every((s) => s.result === undefined)).toBe(true);
    // The error goes back to the agent: the second prompt's scratchpad shows it.
    expect(provider.requests[1].messages.at(-1)!.content).toContain('"kind":"unknown_tool"');
    expect(stats.toJSON()).toEqual({ calls: 8, valid: 2, validity: 0.25, errors: { unknown_tool: 1, out_of_range: 1, wrong_type: 1, unknown_id: 1, missing_argument: 1, unknown_argument: 1 } });
    // Six rejected steps 0; item_info result: item id 106 title zeta 1995 genres comedy ratings 0 mean rating null (13 tokens), LCS 1 → 1/13 < 0.3 → 0.5; finish → 1.
    expect(scoreTrajectory(t)).toEqual([0, 0, 0, 0, 0, 0, 0.5, 1]);
    expect(t.meanReward).toBeCloseTo(1.5 / 8, 12);
  });

  it('max steps exceeded: the last step carries the hint, then the fallback answer is forced', async () => {
    const { client, provider } = scripted([0, 1, 2].map(() => ({ tool: 'user_info', args: { user_id: '7' } })));
    const stats = new CallStats();
    const t = await runAgent(rerank(), { role: manager(client), tools: direct(stats), ids: datasetIds(dataset), stats, maxSteps: 3 });
    expect(provider.requests.map((r) => r.messages.at(-1)!.content.includes(LAST_STEP_HINT))).toEqual([false, false, true]);
    expect(provider.requests.map((r) => r.meta!.hinted)).toEqual([false, false, true]);
    expect(t.trials[0].steps[0].result).toEqual({ user_id: '7', events: 3, mean_rating: 4 });
    expect(t).toMatchObject({ forced: true, status: 'unsure', answer: ['104', '105', '106'] });
    expect(stats.format()).toBe('3 calls, 3 valid (100.0 %)');
    // user id 7 events 3 mean rating 4: no answer id → 0.5, 0.5; the last step has the final status "unsure" → 0.5.
    expect(scoreTrajectory(t)).toEqual([0.5, 0.5, 0.5]);
  });

  it('a reflection that says "correct" ends the run; one that says "wrong" starts a second trial with its reason', async () => {
    const finish = { tool: 'finish', args: { answer: ['106', '105', '104'] } };
    const ok = scripted([finish]);
    const reflOk = scripted([{ correctness: true, reason: 'the model ranking was followed' }]);
    const reflector = { name: 'reflector', client: reflOk.client, template: roleTemplate('reflector', {}) };
    const t1 = await runAgent(rerank(), { role: manager(ok.client), tools: direct(new CallStats()), reflector, maxTrials: 3 });
    expect(t1.trials).toHaveLength(1);
    expect(ok.provider.requests).toHaveLength(1);
    expect(reflOk.provider.requests).toHaveLength(1);
    expect(t1.trials[0].reflection).toEqual({ correctness: true, reason: 'the model ranking was followed' });

    const twice = scripted([finish, { tool: 'finish', args: { answer: ['104', '105', '106'] } }]);
    const reflNo = scripted([{ correctness: false, reason: 'ignored the comedy preference' }]);
    const t2 = await runAgent(rerank(), { role: manager(twice.client), tools: direct(new CallStats()), reflector: { ...reflector, client: reflNo.client }, maxTrials: 2 });
    expect(t2.trials).toHaveLength(2);
    expect(twice.provider.requests[1].messages.at(-1)!.content).toContain('- ignored the comedy preference');
    expect(t2.answer).toEqual(['104', '105', '106']);
    expect(t2.prompts).toEqual(['manager@1', 'reflector@1']);
  });

  it('an invalid answer (not a permutation) is an error observation and is retried', async () => {
    const { client, provider } = scripted([
      { tool: 'finish', args: { answer: ['104', '104', '105'] } },
      { tool: 'finish', args: { answer: ['104', '105'] } },
      { tool: 'finish', args: { answer: ['105', '104', '106'] } },
    ]);
    const stats = new CallStats();
    const t = await runAgent(rerank(), { role: manager(client), tools: direct(stats), stats });
    expect(t.trials[0].steps.map((s) => s.error?.message ?? 'ok')).toEqual(['finish: "104" appears twice', 'finish: 1 candidate(s) missing: the answer must order all 3 candidates', 'ok']);
    expect(provider.requests[2].messages.at(-1)!.content).toContain('appears twice');
    expect(t.answer).toEqual(['105', '104', '106']);
    expect(stats.toJSON()).toEqual({ calls: 3, valid: 1, validity: 1 / 3, errors: { invalid_answer: 2 } });
    expect(scoreTrajectory(t)).toEqual([0, 0, 1]);
  });

  it('a reply that is not an action counts as unparseable (after the client\'s one repair)', async () => {
    const provider = new ScriptedProvider('junk', (_r, i) => (i < 2 ? 'once upon a time' : { thought: 'ok', tool: 'finish', args: { answer: ['104', '105', '106'] } }));
    const stats = new CallStats();
    const t = await runAgent(rerank(), { role: manager(new LLMClient(provider)), tools: direct(stats), stats });
    expect(t.trials[0].steps[0].error?.kind).toBe('unparseable');
    expect(stats.toJSON()).toEqual({ calls: 2, valid: 1, validity: 0.5, errors: { unparseable: 1 } });
  });
});

describe('tasks and metrics', () => {
  it('a rating out of range is rejected by the schema; RMSE and MAE by hand', async () => {
    const task: AgentTask<number> = { name: 'rating', instance: 'x', statement: 'rate', answer: z.number().min(1).max(5), fallback: () => 4 };
    const { client } = scripted([{ tool: 'finish', args: { answer: 7 } }, { tool: 'finish', args: { answer: 4.5 } }]);
    const stats = new CallStats();
    const t = await runAgent(task, { role: manager(client), tools: direct(stats), stats });
    expect(t.trials[0].steps[0].error).toMatchObject({ kind: 'out_of_range', field: 'answer' });
    expect(t.answer).toBe(4.5);
    // (4.5 − 4)² = 0.25, (2 − 4)² = 4: RMSE √(4.25/2), MAE (0.5 + 2)/2.
    const m = ratingMetrics([4.5, 2], [4, 4]);
    expect(m.rmse).toBeCloseTo(Math.sqrt(2.125), 12);
    expect(m.mae).toBeCloseTo(1.25, 12);
  });

  it('HR/NDCG of re-ranking answers by hand', () => {
    // ranks 0, 2, 7: HR@1 1/3, HR@5 2/3; NDCG@5 (1 + 1/log2 4)/3 = 0.5; NDCG@10 adds 1/log2 9.
    const m = rerankMetrics([0, 2, 7], [1, 5, 10]);
    expect(m['hr@1']).toBeCloseTo(1 / 3, 12);
    expect(m['hr@5']).toBeCloseTo(2 / 3, 12);
    expect(m['ndcg@5']).toBeCloseTo(0.5, 12);
    expect(m['ndcg@10']).toBeCloseTo((1.5 + 1 / Math.log2(9)) / 3, 12);
    const inst = rerank();
    expect(taskMetrics([inst], [['105', '106', '104']], data)['hr@1']).toBe(0);
  });

  it('LCS and tokens', () => {
    expect(lcsLength(['a', 'b', 'c', 'b', 'd', 'a', 'b'], ['b', 'd', 'c', 'a', 'b', 'a'])).toBe(4);
    expect(tokens({ item_id: '106' })).toEqual(['item', 'id', '106']);
  });
});

describe('MACRec team', () => {
  it('the manager delegates to the user analyst (nested trajectory, calls counted); reward report ranks by mean step reward', async () => {
    // Call order: manager step 1 → analyst steps 1–2 → manager step 2.
    const provider = new ScriptedProvider('team', (r) => {
      const m = r.meta as { role: string; step: number };
      if (m.role === 'user-analyst') return m.step === 1 ? { thought: 'look', tool: 'user_history', args: { user_id: '8' } } : { thought: 'done', tool: 'finish', args: { answer: 'likes comedies' } };
      return m.step === 1 ? { thought: 'ask', tool: 'analyse_user', args: { user_id: '8' } } : { thought: 'go', tool: 'finish', args: { answer: ['106', '105', '104'] } };
    });
    const run = await runTasks([rerank()], data, { client: new LLMClient(provider), mode: 'macrec', progress: false });
    const t = run.trajectories[0];
    expect(t.trials[0].steps[0].result).toEqual({ analysis: 'likes comedies' });
    expect(t.trials[0].steps[0].sub!.agent).toBe('user-analyst');
    expect(run.stats.toJSON()).toMatchObject({ calls: 4, valid: 4 });
    expect(run.metrics['hr@1']).toBe(1);
    const ranking = rankByReward(new Map([['macrec', run.trajectories], ['forced', [{ ...t, trials: [{ ...t.trials[0], steps: [{ ...t.trials[0].steps[0], reward: { success: 0, contribution: 0, overlap: 0, value: 0 } }] }] }]]]));
    expect(ranking.map((r) => r.name)).toEqual(['macrec', 'forced']);
  });
});
