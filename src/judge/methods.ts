/**
 * Judge methods: what the judge sees besides the two responses, one order at a time. The Arena
 * and the text-pair judge (pair.ts) both run every pair in both orders and combine them with the
 * same consistency rule (arena.ts `combineOrders`), whatever the method.
 *
 * - `pairwise`: nothing extra (today's Arena).
 * - `reviseval` (RevisEval, METHODS.md §3): a reviser rewrites the response shown second into a
 *   response-adapted reference (the released notebook revises B and shows A as "another response,
 *   not necessarily better"); the judge sees that reference. ROUGE-L and BLEU of both responses
 *   against it are recorded; with `scorer: 'rouge-l' | 'bleu'` the metric decides the overall
 *   verdict instead of the LLM (the paper's "weak reviser + classic metric" setting). Where the
 *   LLM and the metric disagree the record says so.
 * - `cce` (Crowd-based Comparative Evaluation, METHODS.md §5): crowd models answer the
 *   instruction; the judge compares each candidate with each crowd response; the comparisons that
 *   criticise the candidate are kept (criticising selection), their verdicts stripped (outcome
 *   removal), and they go into the final prompt as context. Crowd responses and comparisons do not
 *   depend on the order, so they are made once per pair and reused by both orders.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadPrompt, renderPrompt, type LLMClient, type PromptTemplate } from '../llm/index.ts';
import { bleu, rougeL } from './textmetrics.ts';

/** The method names of `reclab arena --judge-method`. */
export const JUDGE_METHODS = ['pairwise', 'reviseval', 'cce'] as const;
export type JudgeMethodName = (typeof JUDGE_METHODS)[number];

/** A pair in one order: the instruction and the responses as shown (first = "A"). */
export interface PairView {
  instruction: string;
  first: string;
  second: string;
}

/** What a method adds to one order's judge call. */
export interface MethodContext {
  /** Text appended to the judge's prompt ('' for none). */
  context: string;
  /** Facts for scripted judges (never sent to a model). */
  meta: Record<string, unknown>;
  /** What the method measured, kept with the match. */
  record: Record<string, unknown>;
  /** When the method decides the overall verdict itself (a metric against the reference): 'A', 'B' or 'tie'. */
  verdict?: 'A' | 'B' | 'tie';
}

/** A judge method. */
export interface JudgeMethod {
  name: JudgeMethodName;
  /** Prompt templates it used (recorded with results). */
  templates: string[];
  prepare(view: PairView): Promise<MethodContext>;
}

/** The plain pairwise method: no context. */
export const pairwise: JudgeMethod = { name: 'pairwise', templates: [], prepare: async () => ({ context: '', meta: { method: 'pairwise' }, record: {} }) };

/** Options of {@link revisEval}. */
export interface RevisEvalOptions {
  reviser: LLMClient;
  /** Who decides the overall verdict: the LLM judge with the reference (default) or a metric against it. */
  scorer?: 'llm' | 'rouge-l' | 'bleu';
  template?: PromptTemplate;
  /** Reviser temperature (default 0.3, the paper's). */
  temperature?: number;
}

/** Higher score wins; equal is a tie. */
const byScore = (a: number, b: number): 'A' | 'B' | 'tie' => (Math.abs(a - b) < 1e-12 ? 'tie' : a > b ? 'A' : 'B');

/** RevisEval: see the module comment. */
export function revisEval(options: RevisEvalOptions): JudgeMethod {
  const template = options.template ?? loadPrompt('reviseval-revise', undefined, judgePromptsDir());
  const scorer = options.scorer ?? 'llm';
  return {
    name: 'reviseval',
    templates: [template.id],
    async prepare(view) {
      const messages = renderPrompt(template, { instruction: view.instruction, other: view.first, response: view.second });
      const meta = { kind: 'revise', instruction: view.instruction, response: view.second, other: view.first };
      const r = await options.reviser.tryJson({ messages, tag: template.id, meta, temperature: options.temperature ?? 0.3, maxTokens: 512 }, z.object({ revised: z.string() }), 'revision');
      // An unusable revision leaves the response itself as the reference (the reviser's "unchanged").
      const reference = r.ok && r.value.revised.trim() ? r.value.revised : view.second;
      const scores = { rougeL: [rougeL(view.first, reference), rougeL(view.second, reference)], bleu: [bleu(view.first, reference), bleu(view.second, reference)] };
      const metricVerdict = scorer === 'bleu' ? byScore(scores.bleu[0], scores.bleu[1]) : byScore(scores.rougeL[0], scores.rougeL[1]);
      return {
        context: `\n\nA reference answer for this instruction (a revision of one of the responses, not necessarily perfect); judge the responses against it:\n${reference}`,
        meta: { method: 'reviseval', reference },
        record: { reference, revised: r.ok, rougeL: scores.rougeL, bleu: scores.bleu, metricVerdict },
        ...(scorer === 'llm' ? {} : { verdict: metricVerdict }),
      };
    },
  };
}

/** One crowd comparison as the judge writes it. */
export const CrowdJudgment = z.object({ judgment: z.string(), criticises_candidate: z.boolean(), verdict: z.enum(['candidate', 'other', 'tie']) });
export type CrowdJudgment = z.infer<typeof CrowdJudgment>;

/**
 * Outcome removal: drops the sentences of a judgment that state a verdict (which response is
 * better or wins, "[[A]]"-style tags, "in conclusion", "therefore", "overall"), keeping the
 * observations.
 */
export function stripVerdict(judgment: string): string {
  const sentences = judgment.split(/(?<=[.!?])\s+/);
  const verdictLike = /\[\[[A-Z]\]\]|\b(better|worse|wins?|winner|prefer(red)?|verdict|in conclusion|therefore|overall|superior|inferior)\b/i;
  return sentences.filter((s) => !verdictLike.test(s)).join(' ').trim();
}

/** Options of {@link crowdEval}. */
export interface CceOptions {
  /** The crowd models (each answers the instruction once). */
  crowd: readonly LLMClient[];
  /** Who compares candidates with crowd responses (the judge). */
  judge: LLMClient;
  crowdTemplate?: PromptTemplate;
  compareTemplate?: PromptTemplate;
}

/** CCE: see the module comment. */
export function crowdEval(options: CceOptions): JudgeMethod {
  if (!options.crowd.length) throw new Error('cce: need at least one crowd model (--crowd)');
  const dir = judgePromptsDir();
  const tCrowd = options.crowdTemplate ?? loadPrompt('cce-crowd', undefined, dir);
  const tCompare = options.compareTemplate ?? loadPrompt('cce-compare', undefined, dir);
  // Both orders of a pair ask the same questions: memoise by content.
  const crowdMemo = new Map<string, Promise<string[]>>();
  const compareMemo = new Map<string, Promise<CrowdJudgment | null>>();
  const crowdResponses = (instruction: string): Promise<string[]> => {
    let p = crowdMemo.get(instruction);
    if (!p) {
      p = Promise.all(
        options.crowd.map(async (c, j) => {
          const r = await c.tryJson({ messages: renderPrompt(tCrowd, { instruction }), tag: tCrowd.id, meta: { kind: 'crowd', crowd: j, instruction }, temperature: 0.7, maxTokens: 512 }, z.object({ response: z.string() }), 'crowd_response');
          return r.ok ? r.value.response : '';
        }),
      );
      crowdMemo.set(instruction, p);
    }
    return p;
  };
  const compare = (instruction: string, candidate: string, crowd: string, j: number): Promise<CrowdJudgment | null> => {
    const key = JSON.stringify([instruction, candidate, crowd]);
    let p = compareMemo.get(key);
    if (!p) {
      const messages = renderPrompt(tCompare, { instruction, candidate, crowd });
      p = options.judge.tryJson({ messages, tag: tCompare.id, meta: { kind: 'cce-compare', instruction, candidate, crowd, crowdIndex: j }, maxTokens: 512 }, CrowdJudgment, 'crowd_judgment').then((r) => (r.ok ? r.value : null));
      compareMemo.set(key, p);
    }
    return p;
  };
  return {
    name: 'cce',
    templates: [tCrowd.id, tCompare.id],
    async prepare(view) {
      const crowd = (await crowdResponses(view.instruction)).filter((c) => c.trim());
      const judged = async (candidate: string) => (await Promise.all(crowd.map((c, j) => compare(view.instruction, candidate, c, j)))).filter((x): x is CrowdJudgment => x !== null);
      const [ja, jb] = await Promise.all([judged(view.first), judged(view.second)]);
      const keep = (js: CrowdJudgment[]) => js.filter((j) => j.criticises_candidate).map((j) => stripVerdict(j.judgment)).filter(Boolean);
      const critiquesA = keep(ja);
      const critiquesB = keep(jb);
      const block = (label: string, cs: string[]) => (cs.length ? `About response ${label}:\n${cs.map((c) => `- ${c}`).join('\n')}` : `About response ${label}: no weakness found.`);
      return {
        context: `\n\nObservations from comparing each response with other responses to the same instruction (verdicts removed):\n${block('A', critiquesA)}\n${block('B', critiquesB)}`,
        meta: { method: 'cce', critiquesA, critiquesB },
        record: { crowd: crowd.length, comparisons: ja.length + jb.length, kept: critiquesA.length + critiquesB.length, keptA: critiquesA.length, keptB: critiquesB.length },
      };
    },
  };
}

/** Folder of the judge prompts (prompts/judge/, or $RECLAB_JUDGE_PROMPTS). */
export function judgePromptsDir(): string {
  return process.env.RECLAB_JUDGE_PROMPTS ?? fileURLToPath(new URL('../../prompts/judge/', import.meta.url));
}
