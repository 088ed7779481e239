/**
 * MACRec's roles (METHODS.md §11) on the runtime: the Manager runs the task; with delegation it
 * calls `analyse_user` / `analyse_item` (a User or Item Analyst, itself a ReAct agent over the
 * data tools), `search` (the Searcher over title search) and, with a model, `retrieve` / `rank`;
 * without delegation (`direct`) the Manager calls the data tools itself. The Reflector, when on,
 * judges each finished trial. Prompts are files in `prompts/agents/` (`manager.v1.md`, …), so
 * users can edit them; a new version is a new file.
 *
 * `runTasks` runs one task over many instances and gathers trajectories (scored with StepTool's
 * rules), call-validity statistics and the task's metrics.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadPrompt, type LLMClient, type PromptTemplate } from '../llm/index.ts';
import { progress } from '../util/progress.ts';
import { reclabTools, datasetIds, type AgentData } from './reclab-tools.ts';
import { scoreTrajectory } from './rewards.ts';
import { runAgent, type Role } from './runtime.ts';
import { ratingMetrics, rerankMetrics, targetRank, type TaskInstance } from './tasks.ts';
import { defineTool, RawId, ToolSet, type Tool } from './tools.ts';
import type { Trajectory } from './trajectory.ts';
import { CallStats } from './verify.ts';

/** Default folder of the agents' prompt files (override with $RECLAB_AGENT_PROMPTS). */
export const AGENT_PROMPTS_DIR = process.env.RECLAB_AGENT_PROMPTS ?? fileURLToPath(new URL('../../prompts/agents/', import.meta.url));

/** How the Manager works: delegating to analysts (MACRec) or calling the data tools itself. */
export type AgentMode = 'macrec' | 'direct';

/** Options of the team. */
export interface TeamOptions {
  client: LLMClient;
  /** Reflector's model (default: none, no reflection). */
  reflector?: LLMClient;
  mode?: AgentMode;
  /** Manager steps per trial (default 10). */
  maxSteps?: number;
  /** Analyst and searcher steps (default 3). */
  analystSteps?: number;
  /** Trials with a reflector (default 2). */
  maxTrials?: number;
  /** Prompt folder (default prompts/agents/). */
  promptsDir?: string;
  /** Prompt templates by role, overriding the folder (tests). */
  templates?: Partial<Record<RoleName, PromptTemplate>>;
}

/** The role names, as prompt file names. */
export type RoleName = 'manager' | 'user-analyst' | 'item-analyst' | 'searcher' | 'interpreter' | 'reflector';

/** The template of a role (override, else the latest version in the folder). */
export function roleTemplate(name: RoleName, options: Pick<TeamOptions, 'promptsDir' | 'templates'>): PromptTemplate {
  return options.templates?.[name] ?? loadPrompt(name, undefined, options.promptsDir ?? AGENT_PROMPTS_DIR);
}

const pick = (tools: readonly Tool[], names: readonly string[]): ToolSet => new ToolSet(tools.filter((t) => names.includes(t.name)));

/** The Manager's tools under `mode`, all calls counted in `stats`. */
export function managerTools(data: AgentData, options: TeamOptions, stats: CallStats): ToolSet {
  const base = reclabTools(data);
  const ids = datasetIds(data.dataset);
  const modelTools = base.filter((t) => t.name === 'retrieve' || t.name === 'rank');
  if ((options.mode ?? 'macrec') === 'direct') return new ToolSet(base);
  const steps = options.analystSteps ?? 3;
  const delegate = (role: RoleName, tools: ToolSet, statement: string, meta: Record<string, unknown>) =>
    runAgent(
      { name: `analyse`, instance: statement, statement, answer: z.string(), fallback: () => '', meta },
      { role: { name: role, client: options.client, template: roleTemplate(role, options) }, tools, ids, maxSteps: steps, stats },
    ).then((trajectory) => ({ result: { [role === 'searcher' ? 'found' : 'analysis']: trajectory.answer }, trajectory }));
  const tools: Tool[] = [
    defineTool({
      name: 'analyse_user',
      description: 'Asks the User Analyst to summarise a user\'s preferences from their profile and history.',
      args: z.object({ user_id: RawId }).strict(),
      ids: { user_id: 'user' },
      run: ({ user_id }) => delegate('user-analyst', pick(base, ['user_info', 'user_history']), `Analyse user ${user_id}.`, { subject: 'user', id: user_id }),
    }),
    defineTool({
      name: 'analyse_item',
      description: 'Asks the Item Analyst to summarise an item and who likes it.',
      args: z.object({ item_id: RawId }).strict(),
      ids: { item_id: 'item' },
      run: ({ item_id }) => delegate('item-analyst', pick(base, ['item_info', 'item_history']), `Analyse item ${item_id}.`, { subject: 'item', id: item_id }),
    }),
    defineTool({
      name: 'search',
      description: 'Asks the Searcher to find catalogue items matching a description or title.',
      args: z.object({ request: z.string().min(1) }).strict(),
      run: ({ request }) => delegate('searcher', pick(base, ['search_titles']), `Find items matching: ${request}`, { subject: 'search', request }),
    }),
    ...modelTools,
  ];
  return new ToolSet(tools);
}

/** Everything a task run produced. */
export interface TaskRun {
  task: string;
  mode: AgentMode;
  llm: string;
  trajectories: Trajectory[];
  stats: CallStats;
  /** Instances answered validly (not forced). */
  solved: number;
  /** Task metrics over all instances (forced answers included) and over the solved ones. */
  metrics: Record<string, number>;
  metricsSolved: Record<string, number>;
  /** Mean StepTool step reward over all steps. */
  meanStepReward: number;
}

/** Runs the team on every instance (one at a time: agent steps depend on each other), scores the trajectories and computes the metrics. */
export async function runTasks(instances: readonly TaskInstance<unknown>[], data: AgentData, options: TeamOptions & { progress?: boolean }): Promise<TaskRun> {
  const stats = new CallStats();
  const tools = managerTools(data, options, stats);
  const ids = datasetIds(data.dataset);
  const manager: Role = { name: 'manager', client: options.client, template: roleTemplate('manager', options) };
  const reflector: Role | undefined = options.reflector ? { name: 'reflector', client: options.reflector, template: roleTemplate('reflector', options) } : undefined;
  const bar = progress(`agent ${instances[0]?.name ?? ''}`, instances.length, { enabled: options.progress, unit: 'tasks' });
  const trajectories: Trajectory[] = [];
  try {
    for (const task of instances) {
      const t = await runAgent(task, { role: manager, tools, ids, maxSteps: options.maxSteps, maxTrials: options.maxTrials, reflector, stats });
      scoreTrajectory(t);
      trajectories.push(t);
      bar.tick(1, t.status);
    }
  } finally {
    bar.stop();
  }
  const solvedIdx = trajectories.map((t, i) => (t.forced ? -1 : i)).filter((i) => i >= 0);
  const metricsOf = (which: readonly number[]): Record<string, number> => taskMetrics(which.map((i) => instances[i]), which.map((i) => trajectories[i].answer), data);
  let rewardSum = 0;
  let steps = 0;
  for (const t of trajectories) for (const tr of t.trials) for (const s of tr.steps) [rewardSum, steps] = [rewardSum + (s.reward?.value ?? 0), steps + 1];
  return {
    task: instances[0]?.name ?? '',
    mode: options.mode ?? 'macrec',
    llm: options.client.provider.id,
    trajectories,
    stats,
    solved: solvedIdx.length,
    metrics: metricsOf(trajectories.map((_, i) => i)),
    metricsSolved: metricsOf(solvedIdx),
    meanStepReward: steps ? rewardSum / steps : 0,
  };
}

/** The task's metrics over some instances and their answers. */
export function taskMetrics(instances: readonly TaskInstance<unknown>[], answers: readonly unknown[], data: AgentData): Record<string, number> {
  if (!instances.length) return {};
  const name = instances[0].name;
  if (name === 'rerank') return rerankMetrics(instances.map((t, i) => targetRank(answers[i] as string[], data.dataset.itemIds.toRaw(t.target))));
  if (name === 'rating') return ratingMetrics(answers as number[], instances.map((t) => t.truth!));
  const lengths = answers.map((a) => String(a).trim().split(/\s+/).filter(Boolean).length);
  return { 'mean_words': lengths.reduce((a, b) => a + b, 0) / lengths.length, 'non_empty': lengths.filter((n) => n > 0).length / lengths.length };
}
