/**
 * The record of an agent run: one entry per step (thought, call, arguments, result or structured
 * error, tokens, time), the trials when a reflector asked for another, and the final answer.
 * Written one JSON object per line (`*.trajectory.jsonl`), so a run can be read, diffed and
 * re-scored (step rewards) without the model. docs/agents.md documents the fields.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CallError } from './verify.ts';

/** One step of a trial. */
export interface Step {
  /** 1-based step number within the trial. */
  index: number;
  /** The agent's reasoning as written. */
  thought: string;
  /** The tool it named (`""` when the reply was not an action). */
  tool: string;
  /** Arguments as written (before validation). */
  args: unknown;
  /** The tool's result (JSON), when the call ran. */
  result?: unknown;
  /** Why the call did not run or failed. */
  error?: CallError;
  /** True when this step's `finish` gave a valid answer. */
  finished?: boolean;
  /** True when the step carried the last-step hint ("you must finish now"). */
  hinted?: boolean;
  /** Tokens of the LLM call(s) of this step. */
  tokens: { prompt: number; completion: number };
  /** Wall time of the step, ms (LLM + tool). */
  ms: number;
  /** Nested run of a delegated role (an analyst), when the tool delegates. */
  sub?: Trajectory;
  /** Step reward (StepTool rules), filled by `scoreTrajectory`. */
  reward?: StepReward;
}

/** StepTool's rule-based step reward. */
export interface StepReward {
  /** 1 when the call was valid and its result carries no error. */
  success: 0 | 1;
  /** 1 when LCS(result, final answer) / |result| ≥ the threshold (0.3). */
  contribution: 0 | 1;
  /** The LCS ratio itself. */
  overlap: number;
  /** (α·success + contribution) / (α + 1), in [0, 1]; for the last step the final status. */
  value: number;
}

/** A reflector's verdict on a trial. */
export interface Reflection {
  correctness: boolean;
  reason: string;
}

/** One attempt at the task. */
export interface Trial {
  steps: Step[];
  /** The answer (valid, or the task's fallback when `forced`). */
  answer: unknown;
  /** True when no valid finish came within the step budget and the fallback answer was used. */
  forced: boolean;
  reflection?: Reflection;
}

/** A whole run of one agent on one task instance. */
export interface Trajectory {
  agent: string;
  task: string;
  /** Identifies the instance (e.g. `user 196`). */
  instance: string;
  /** Provider id of the LLM. */
  llm: string;
  /** Prompt template ids used. */
  prompts: string[];
  trials: Trial[];
  /** The final answer (of the last trial). */
  answer: unknown;
  forced: boolean;
  /** Final status for StepTool: solved (valid answer), unsure (forced), unsolved (none). */
  status: 'solved' | 'unsure' | 'unsolved';
  /** Mean step reward over all steps of all trials (filled by `scoreTrajectory`). */
  meanReward?: number;
}

/** Appends trajectories to a JSONL file (one per line). */
export async function writeTrajectories(path: string, runs: readonly Trajectory[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, runs.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/** Every step of a trajectory, trials in order. */
export function allSteps(t: Trajectory): Step[] {
  return t.trials.flatMap((tr) => tr.steps);
}
