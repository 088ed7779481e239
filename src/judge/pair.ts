/**
 * Judging two text responses to one instruction (the setting RevisEval and CCE were built for),
 * with any judge method, in both orders, combined by the Arena's consistency rule: a response
 * wins only when both orders pick it, anything else is a tie. A judge that always answers "A"
 * therefore gives only ties, whatever the method.
 */
import { z } from 'zod';
import { loadPrompt, renderPrompt, type LLMClient, type PromptTemplate } from '../llm/index.ts';
import { combineOrders, Verdict, type Outcome } from './arena.ts';
import { judgePromptsDir, pairwise, type JudgeMethod, type MethodContext } from './methods.ts';

/** The pair judge's reply. */
export const PairReply = z.object({ verdict: Verdict, explanation: z.string() });
export type PairReply = z.infer<typeof PairReply>;

/** One order's result. */
export interface PairOrder {
  /** The verdict used: the method's own (a metric) when it decides, else the judge's. */
  verdict: Verdict | undefined;
  /** The LLM judge's reply (null when invalid after repair). */
  reply: PairReply | null;
  record: Record<string, unknown>;
}

/** A judged pair. */
export interface PairResult {
  method: string;
  /** `a`, `b`, `tie` or `invalid` after both orders. */
  outcome: Outcome;
  forward: PairOrder;
  backward: PairOrder;
  /** The LLM judge's own both-orders outcome (differs from `outcome` when a metric decided). */
  judgeOutcome: Outcome;
}

/** Judges responses `a` and `b` to `instruction` in both orders with `method` (default pairwise). */
export async function judgePair(client: LLMClient, instruction: string, a: string, b: string, method: JudgeMethod = pairwise, template?: PromptTemplate): Promise<PairResult> {
  const t = template ?? loadPrompt('pair-judge', undefined, judgePromptsDir());
  const once = async (first: string, second: string): Promise<PairOrder> => {
    const ctx: MethodContext = await method.prepare({ instruction, first, second });
    const messages = renderPrompt(t, { instruction, response_a: first, response_b: second });
    messages[messages.length - 1].content += ctx.context;
    const meta = { kind: 'pair', instruction, first, second, ...ctx.meta };
    const r = await client.tryJson({ messages, tag: t.id, meta, maxTokens: 300 }, PairReply, 'pair_verdict');
    const reply = r.ok ? r.value : null;
    return { verdict: ctx.verdict ?? reply?.verdict, reply, record: ctx.record };
  };
  const forward = await once(a, b);
  const backward = await once(b, a);
  return {
    method: method.name,
    outcome: combineOrders(forward.verdict, backward.verdict),
    forward,
    backward,
    judgeOutcome: combineOrders(forward.reply?.verdict, backward.reply?.verdict),
  };
}
