/**
 * Step rewards by StepTool's rules (METHODS.md §7), so trajectories carry a score per step and
 * agents or prompts can be ranked by their process, not only their final answer.
 *
 * - Success (SuccCalling): the call passed the rule layer, ran, and its result shows no error
 *   (no error field, no status 400, no "wrong" / "error" / "is empty" text).
 * - Contribution: 1 when LCS(result, final answer) / |result| ≥ 0.3, else 0. Both texts are cut
 *   into lowercase word tokens (the JSON of the result, the JSON of the answer); the LCS is over
 *   tokens, and |result| is the result's token count.
 * - Step value r_t = (α·success + contribution) / (α + 1) for steps before the last (α = 1 by
 *   default), in [0, 1]; the last step of the last trial gets the final status:
 *   solved 1, unsure (forced fallback answer) 0.5, unsolved 0.
 *
 * StepTool's PPO code multiplies each step score by (len − idx − 1), which zeroes the last step;
 * that quirk is not copied (METHODS.md flags it).
 */
import { allSteps, type Step, type Trajectory } from './trajectory.ts';
import { lcsLength, wordTokens } from '../util/text.ts';

/** Options of {@link scoreTrajectory}. */
export interface RewardOptions {
  /** Weight of success against contribution (default 1). */
  alpha?: number;
  /** Contribution threshold on the LCS ratio (default 0.3). */
  threshold?: number;
}

/** Lowercase word tokens of a text or JSON value. */
export function tokens(value: unknown): string[] {
  return wordTokens(typeof value === 'string' ? value : JSON.stringify(value ?? ''));
}

export { lcsLength };

const FAILURE_TEXT = /\bwrong\b|\berror\b|is empty/i;

/** StepTool's success rule on one step. */
export function stepSucceeded(step: Step): boolean {
  if (step.error || step.result === undefined) return false;
  const r = step.result as { status?: unknown; error?: unknown };
  if (r && typeof r === 'object' && (r.error !== undefined || r.status === 400)) return false;
  return !FAILURE_TEXT.test(JSON.stringify(step.result));
}

/** Fills `reward` on every step and `meanReward` on the trajectory; returns the step values in order. */
export function scoreTrajectory(t: Trajectory, options: RewardOptions = {}): number[] {
  const alpha = options.alpha ?? 1;
  const threshold = options.threshold ?? 0.3;
  const answer = tokens(t.answer);
  const steps = allSteps(t);
  const values = steps.map((s, i) => {
    const success = stepSucceeded(s) ? 1 : 0;
    const res = s.result === undefined ? [] : tokens(s.result);
    const overlap = res.length ? lcsLength(res, answer) / res.length : 0;
    const contribution = overlap >= threshold ? 1 : 0;
    const last = i === steps.length - 1;
    const value = last ? { solved: 1, unsure: 0.5, unsolved: 0 }[t.status] : (alpha * success + contribution) / (alpha + 1);
    s.reward = { success, contribution, overlap, value };
    return value;
  });
  t.meanReward = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  return values;
}

/** Mean step reward and success rate of a group of trajectories (an agent or a prompt version). */
export interface RewardRow {
  name: string;
  runs: number;
  steps: number;
  meanReward: number;
  solved: number;
}

/** Ranks groups (agent or prompt names → their scored trajectories) by mean step reward, best first. */
export function rankByReward(groups: ReadonlyMap<string, readonly Trajectory[]>): RewardRow[] {
  const rows: RewardRow[] = [];
  for (const [name, runs] of groups) {
    let sum = 0;
    let n = 0;
    for (const t of runs) for (const s of allSteps(t)) if (s.reward) [sum, n] = [sum + s.reward.value, n + 1];
    rows.push({ name, runs: runs.length, steps: n, meanReward: n ? sum / n : 0, solved: runs.filter((t) => t.status === 'solved').length });
  }
  return rows.sort((a, b) => b.meanReward - a.meanReward || a.name.localeCompare(b.name));
}
