/**
 * The agent runtime: a ReAct loop (Thought → Action → Observation, as MACRec's Manager runs it)
 * over typed tools, through the LLM client (any provider: OpenAI-compatible, GGUF, replay,
 * scripted).
 *
 * Each step asks the model for one JSON action `{thought, tool, args}`. The call goes through the
 * rule layer (verify.ts) before it runs; a rejected call returns a structured error as the
 * observation, so the model can correct itself within the step budget. `finish` is a tool too:
 * its `answer` argument has the task's schema, and the task's own validator (a rating in range, a
 * permutation of exactly the candidates) runs on top; an invalid answer is an error observation
 * and the loop goes on. The last step carries a hint ("you must finish now"); when the budget ends
 * without a valid answer, the task's fallback answer is used and the trial is marked `forced`.
 *
 * With a reflector, a finished trial is shown to it; it answers `{correctness, reason}`. "Correct"
 * ends the run; otherwise its reason is added to the next trial's prompt (up to `maxTrials`).
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { estimateTokens, renderPrompt, type LLMClient, type PromptTemplate } from '../llm/index.ts';
import { defineTool, ToolSet, type IdResolver } from './tools.ts';
import { CallStats, checkCall, type CallError } from './verify.ts';
import type { Reflection, Step, Trajectory, Trial } from './trajectory.ts';

/**
 * The action the model writes at each step. The length caps keep a rambling model (or a tiny
 * grammar-constrained one) from spending its whole token budget inside one string; `tool` is a
 * free string on purpose, so an unknown tool reaches the rule layer and is counted.
 */
export const AgentAction = z.object({
  thought: z.string().max(500),
  tool: z.string().max(40),
  args: z.record(z.string().max(40), z.unknown()).meta({ maxProperties: 8 }).optional(),
});
export type AgentAction = z.infer<typeof AgentAction>;

/** The reflector's reply (MACRec's Reflector JSON). */
export const ReflectionReply = z.object({ correctness: z.boolean(), reason: z.string() });

/** One instance of a task for an agent. */
export interface AgentTask<A> {
  /** Task name (`rerank`, `rating`, `explain`, `chat`…). */
  name: string;
  /** Identifies the instance in trajectories (`user 196`). */
  instance: string;
  /** The task statement the agent reads. */
  statement: string;
  /** Schema of `finish`'s `answer`. */
  answer: z.ZodType<A>;
  /** Checks beyond the schema (e.g. a permutation of exactly the candidates): an error text, or null when valid. */
  validate?(answer: A): string | null;
  /** The answer used when no valid one came within the budget. */
  fallback(): A;
  /** Structured facts for scripted providers (never sent to a real model). */
  meta?: Record<string, unknown>;
}

/** A role's prompt and model. */
export interface Role {
  /** Role name (`manager`, `user-analyst`…), recorded in trajectories. */
  name: string;
  client: LLMClient;
  /** Template with `{{tools}}`, `{{task}}`, `{{reflections}}`, `{{scratchpad}}`, `{{hint}}`. */
  template: PromptTemplate;
}

/** Options of {@link runAgent}. */
export interface AgentOptions {
  role: Role;
  /** Tools besides `finish` (added here with the task's answer schema). */
  tools: ToolSet;
  /** Checks the ids named by tool arguments. */
  ids?: IdResolver;
  /** Steps per trial (default 10, MACRec's `max_step`). */
  maxSteps?: number;
  /** Trials when a reflector is given (default 2). */
  maxTrials?: number;
  /** MACRec's Reflector: judges a finished trial. */
  reflector?: Role;
  /** Token cap per step (default 300, MACRec's setting). */
  maxTokens?: number;
  /** Counts every call (shared across runs for per-run statistics). */
  stats?: CallStats;
}

/** The hint added on the last step. */
export const LAST_STEP_HINT = 'This is your last step: you must call finish now with your best answer.';

/** Observations are cut to this many characters in the scratchpad (tool results can be long). */
const OBSERVATION_CHARS = 1500;

/** The scratchpad text of the steps so far. */
export function scratchpad(steps: readonly Step[]): string {
  if (!steps.length) return '(no steps yet)';
  return steps
    .map((s) => {
      const obs = s.error ? { error: s.error } : s.result;
      let o = JSON.stringify(obs ?? null);
      if (o.length > OBSERVATION_CHARS) o = `${o.slice(0, OBSERVATION_CHARS)}…`;
      return `Step ${s.index}\nThought: ${s.thought}\nAction: ${s.tool} ${JSON.stringify(s.args ?? {})}\nObservation: ${o}`;
    })
    .join('\n\n');
}

/** Runs one role on one task instance; returns its trajectory (not yet scored: see rewards.ts). */
export async function runAgent<A>(task: AgentTask<A>, options: AgentOptions): Promise<Trajectory> {
  const maxSteps = options.maxSteps ?? 10;
  const maxTrials = options.reflector ? (options.maxTrials ?? 2) : 1;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new RangeError(`runAgent: maxSteps must be an integer ≥ 1, got ${maxSteps}`);
  const stats = options.stats ?? new CallStats();
  const { role } = options;
  const tools = new ToolSet(options.tools.names.map((n) => options.tools.get(n)!));
  // finish: the answer has the task's schema; the task's validator runs in `run` and its message becomes the error.
  tools.add(
    defineTool({
      name: 'finish',
      description: 'Ends the task with your answer.',
      args: z.object({ answer: task.answer }).strict(),
      run: ({ answer }) => {
        const problem = task.validate?.(answer as A) ?? null;
        return problem === null ? { accepted: true } : { invalidAnswer: problem };
      },
    }),
  );
  const toolText = tools.describe();
  const trials: Trial[] = [];
  const reflections: string[] = [];
  const prompts = new Set([role.template.id]);
  for (let trialNo = 0; trialNo < maxTrials; trialNo++) {
    const steps: Step[] = [];
    let answer: A | undefined;
    for (let index = 1; index <= maxSteps && answer === undefined; index++) {
      const hinted = index === maxSteps;
      const t0 = performance.now();
      const messages = renderPrompt(role.template, {
        tools: toolText,
        task: task.statement,
        reflections: reflections.length ? `Reflections on earlier trials:\n${reflections.map((r) => `- ${r}`).join('\n')}` : '',
        scratchpad: scratchpad(steps),
        hint: hinted ? LAST_STEP_HINT : '',
      });
      const meta = { kind: 'agent', role: role.name, task: task.name, tools: tools.names, step: index, trial: trialNo + 1, hinted, last: steps.at(-1) ?? null, ...(task.meta ?? {}) };
      const reply = await role.client.tryJson({ messages, tag: role.template.id, meta, maxTokens: options.maxTokens ?? 300 }, AgentAction, 'agent_action');
      const tokens = reply.ok
        ? { prompt: reply.result.usage.promptTokens, completion: reply.result.usage.completionTokens }
        : { prompt: estimateTokens(messages.map((m) => m.content).join('\n')), completion: estimateTokens(reply.text) };
      if (!reply.ok) {
        stats.record('unparseable');
        steps.push({ index, thought: '', tool: '', args: null, error: { kind: 'unparseable', message: `the reply is not an action {thought, tool, args}: ${reply.error}` }, hinted, tokens, ms: performance.now() - t0 });
        continue;
      }
      const action = reply.value;
      const step: Step = { index, thought: action.thought, tool: action.tool, args: action.args ?? {}, hinted, tokens, ms: 0 };
      const checked = checkCall(tools, { tool: action.tool, args: action.args ?? {} }, options.ids);
      if (!checked.ok) {
        stats.record(checked.error.kind);
        step.error = checked.error;
      } else {
        try {
          const result = await tools.get(action.tool)!.run(checked.args);
          const invalid = (result as { invalidAnswer?: string } | undefined)?.invalidAnswer;
          if (invalid !== undefined) {
            stats.record('invalid_answer');
            step.error = { kind: 'invalid_answer', field: 'answer', message: `finish: ${invalid}` };
          } else {
            stats.record(null);
            const sub = (result as { trajectory?: Trajectory } | undefined)?.trajectory;
            if (sub) {
              step.sub = sub;
              step.result = (result as { result: unknown }).result;
            } else step.result = result;
            if (action.tool === 'finish') {
              answer = (checked.args as { answer: A }).answer;
              step.finished = true;
            }
          }
        } catch (e) {
          stats.record('tool_failed');
          step.error = { kind: 'tool_failed', message: `${action.tool}: ${(e as Error).message}` } satisfies CallError;
        }
      }
      step.ms = performance.now() - t0;
      steps.push(step);
    }
    const forced = answer === undefined;
    const trial: Trial = { steps, answer: forced ? task.fallback() : answer, forced };
    trials.push(trial);
    if (!options.reflector || trialNo === maxTrials - 1) break;
    const reflection = await reflect(options.reflector, task, trial, toolText);
    prompts.add(options.reflector.template.id);
    trial.reflection = reflection;
    if (reflection.correctness) break;
    reflections.push(reflection.reason);
  }
  const last = trials[trials.length - 1];
  return {
    agent: role.name,
    task: task.name,
    instance: task.instance,
    llm: role.client.provider.id,
    prompts: [...prompts],
    trials,
    answer: last.answer,
    forced: last.forced,
    status: last.forced ? 'unsure' : 'solved',
  };
}

/** Asks the reflector about a trial; an unusable reply counts as "correct" (no retry on noise). */
async function reflect(reflector: Role, task: AgentTask<unknown>, trial: Trial, tools: string): Promise<Reflection> {
  const messages = renderPrompt(reflector.template, {
    tools,
    task: task.statement,
    reflections: '',
    scratchpad: `${scratchpad(trial.steps)}\n\nAnswer${trial.forced ? ' (forced: no valid finish within the step budget)' : ''}: ${JSON.stringify(trial.answer)}`,
    hint: '',
  });
  const meta = { kind: 'reflect', task: task.name, answer: trial.answer, forced: trial.forced, steps: trial.steps.length, ...(task.meta ?? {}) };
  const r = await reflector.client.tryJson({ messages, tag: reflector.template.id, meta, maxTokens: 300 }, ReflectionReply, 'reflection');
  return r.ok ? r.value : { correctness: true, reason: `reflector reply unusable (${r.error}); no retry` };
}
