/**
 * `reclab agent`: MACRec-style agents on a dataset's leave-one-out split — re-ranking candidates,
 * rating prediction or explanation — through any LLM (OpenAI-compatible, GGUF, replay,
 * scripted). Every tool call goes through the rule layer; prints the call-validity statistics by
 * error kind, the task's metrics, the mean StepTool step reward, and writes the trajectories.
 *
 *   reclab agent --task rerank --data ../shared/datasets/ml-100k/u.data --format ml-100k \
 *     --llm openai:qwen2.5-7b-instruct --base-url http://localhost:8000/v1 --users 50
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { TASKS, explainTask, ratingScale, ratingTask, rerankTask, runTasks, writeTrajectories, type AgentMode, type TaskInstance, type TaskName } from '../../agents/index.ts';
import '../../agents/scripts.ts';
import { sampleCandidates } from '../../llmrec/candidates.ts';
import { clientFromFlags, loadLlmData, resolveSystem, sampleUsers, type DataFlags, type LlmFlags } from '../../llmrec/setup.ts';
import { dataOptions, llmOptions } from './arena.ts';

interface AgentFlags extends DataFlags, LlmFlags {
  task: string;
  llm: string;
  reflector?: string;
  mode: string;
  model?: string;
  users: string;
  candidates: string;
  sampling: string;
  maxSteps: string;
  analystSteps: string;
  trials: string;
  seed: string;
  out?: string;
  progress: boolean;
}

const int = (flag: string, v: string, min: number): number => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${flag}: expected an integer ≥ ${min}, got "${v}"`);
  return x;
};

/** Registers `reclab agent`. */
export function register(program: Command): void {
  const cmd = program.command('agent').description('MACRec-style LLM agents (rerank, rating, explain) with checked tool calls, call-validity statistics and StepTool step rewards');
  dataOptions(cmd)
    .option('--task <name>', `task: ${TASKS.join(', ')}`, 'rerank')
    .requiredOption('--llm <provider>', 'openai:<model>[@url], gguf:<file>, replay:<file.jsonl> or scripted:<name>')
    .option('--reflector <provider>', 'MACRec Reflector model (default: no reflection)')
    .option('--mode <mode>', 'macrec (the Manager delegates to analysts and the searcher) or direct (the Manager calls the data tools)', 'macrec')
    .option('--model <system>', 'recommender behind the retrieve and rank tools: saved model dir, or registry name[:{json}] trained here')
    .option('--users <n>', 'users sampled (one task instance each)', '20')
    .option('--candidates <n>', 'rerank: candidates per user (1 held-out + n − 1 negatives)', '20')
    .option('--sampling <how>', 'rerank: negatives uniform or popularity', 'uniform')
    .option('--max-steps <n>', 'Manager steps per trial (MACRec max_step)', '10')
    .option('--analyst-steps <n>', 'steps of each analyst / searcher call', '3')
    .option('--trials <n>', 'trials when a reflector is given', '2')
    .option('--seed <n>', 'seed of user and candidate sampling', '42')
    .option('--out <file.jsonl>', 'trajectory file (default runs/agent-<task>-<time>.trajectory.jsonl)')
    .option('--no-progress', 'no progress bars');
  llmOptions(cmd).action(async (o: AgentFlags) => {
    if (!(TASKS as readonly string[]).includes(o.task)) throw new Error(`--task: expected one of ${TASKS.join(', ')}, got "${o.task}"`);
    if (o.mode !== 'macrec' && o.mode !== 'direct') throw new Error(`--mode: expected macrec or direct, got "${o.mode}"`);
    if (o.sampling !== 'uniform' && o.sampling !== 'popularity') throw new Error(`--sampling: expected uniform or popularity, got "${o.sampling}"`);
    const task = o.task as TaskName;
    const seed = int('seed', o.seed, 0);
    const nUsers = int('users', o.users, 1);
    const client = clientFromFlags(o.llm, o);
    const reflector = o.reflector ? (o.reflector === o.llm ? client : clientFromFlags(o.reflector, o)) : undefined;
    try {
      const data = await loadLlmData(o, o.progress);
      const { dataset, split, catalogue } = data;
      process.stderr.write(`${dataset.name}: ${dataset.nUsers} users, ${dataset.nItems} items, ${dataset.items.length} events; titles from ${catalogue.source}\n`);
      const model = o.model ? (await resolveSystem(o.model, split, seed, undefined, o.progress)).model : undefined;
      const agentData = { dataset, history: data.history, catalogue, model };
      const users = sampleUsers(split.test, nUsers, seed);
      const test = split.test;
      const instances: TaskInstance<unknown>[] = [];
      if (task === 'rerank') {
        const popularity = new Float64Array(dataset.nItems);
        for (const i of split.train.items) popularity[i]++;
        const probes = sampleCandidates(data.history, test, catalogue, users, { n: int('candidates', o.candidates, 2), sampling: o.sampling, popularity, seed, label: (u) => dataset.userIds.toRaw(u) });
        for (const p of probes) instances.push(rerankTask(agentData, p, seed) as TaskInstance<unknown>);
      } else {
        const scale = task === 'rating' ? ratingScale(data.history) : ([0, 0] as [number, number]);
        for (const u of users) {
          const p = test.offsets[u];
          instances.push((task === 'rating' ? ratingTask(agentData, u, test.items[p], test.values![p], scale) : explainTask(agentData, u, test.items[p])) as TaskInstance<unknown>);
        }
      }
      const run = await runTasks(instances, agentData, {
        client,
        reflector,
        mode: o.mode as AgentMode,
        maxSteps: int('max-steps', o.maxSteps, 1),
        analystSteps: int('analyst-steps', o.analystSteps, 1),
        maxTrials: int('trials', o.trials, 1),
        progress: o.progress ? undefined : false,
      });
      const out = o.out ?? join('runs', `agent-${task}-${new Date().toISOString().replace(/[:.]/g, '-')}.trajectory.jsonl`);
      await writeTrajectories(out, run.trajectories);
      const line = (t: string): boolean => process.stdout.write(`${t}\n`);
      const fmt = (m: Record<string, number>): string => Object.entries(m).map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(4) : 'n/a'}`).join(', ') || 'n/a';
      line(`agent ${task} (${run.mode}, ${run.llm}): ${instances.length} instances, ${run.solved} answered validly, ${instances.length - run.solved} forced (fallback answer)`);
      line(`  tool calls: ${run.stats.format()}`);
      line(`  ${task} metrics, all instances (forced answers included): ${fmt(run.metrics)}`);
      line(`  ${task} metrics, validly answered only: ${run.solved ? fmt(run.metricsSolved) : 'none'}`);
      line(`  mean step reward (StepTool rules): ${run.meanStepReward.toFixed(4)}`);
      const usage = client.ledger.total();
      line(`  ${usage.calls} LLM calls (${usage.cachedCalls} cached), ${usage.promptTokens + usage.completionTokens} tokens, ${usage.repairs} repairs, $${usage.costUsd.toFixed(4)}`);
      line(`trajectories: ${out}`);
    } finally {
      await client.close();
      if (reflector && reflector !== client) await reflector.close();
    }
  });
}
