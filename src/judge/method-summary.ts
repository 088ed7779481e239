/**
 * What a judge method measured over an Arena run, per system: RevisEval's mean ROUGE-L and BLEU of
 * each system's lists against the revised references and how often the LLM's overall verdict
 * disagreed with the metric's; CCE's crowd comparisons made and kept (criticising selection),
 * and how many of the kept critiques were about each system.
 */
import type { ArenaRun } from './arena.ts';

/** Per-system figures of a method. */
export interface MethodSystemFigures {
  /** RevisEval: mean ROUGE-L F1 / BLEU-4 of the system's lists against the reference, over both orders. */
  rougeL?: number;
  bleu?: number;
  /** CCE: kept critiques about this system's lists. */
  critiques?: number;
}

/** A method's summary over a run. */
export interface MethodSummary {
  method: string;
  systems: Record<string, MethodSystemFigures>;
  /** RevisEval: orders where the LLM's overall verdict differs from the metric's (of `orders` judged validly). */
  judgeMetricDisagreements?: number;
  orders?: number;
  /** CCE: comparisons made and kept, over all orders. */
  comparisons?: number;
  kept?: number;
}

type Rec = Record<string, unknown>;

/** Summarises `run.matches[].method` (undefined for a pairwise run). */
export function summarizeMethod(run: ArenaRun): MethodSummary | undefined {
  if (!run.method) return undefined;
  const sums = new Map<string, { rouge: number; bleu: number; n: number; critiques: number }>();
  const acc = (name: string) => {
    let s = sums.get(name);
    if (!s) sums.set(name, (s = { rouge: 0, bleu: 0, n: 0, critiques: 0 }));
    return s;
  };
  let disagreements = 0;
  let orders = 0;
  let comparisons = 0;
  let kept = 0;
  for (const m of run.matches) {
    if (!m.method) continue;
    // Forward shows a first; backward shows b first.
    const orderRecs: [Rec, string, string, typeof m.forward][] = [
      [m.method.forward, m.a, m.b, m.forward],
      [m.method.backward, m.b, m.a, m.backward],
    ];
    for (const [rec, first, second, reply] of orderRecs) {
      if (run.method.name === 'reviseval') {
        const r = rec.rougeL as number[] | undefined;
        const b = rec.bleu as number[] | undefined;
        if (r && b) {
          const f = acc(first);
          const s = acc(second);
          [f.rouge, f.bleu, f.n] = [f.rouge + r[0], f.bleu + b[0], f.n + 1];
          [s.rouge, s.bleu, s.n] = [s.rouge + r[1], s.bleu + b[1], s.n + 1];
        }
        if (reply) {
          orders++;
          if (reply.overall !== rec.metricVerdict) disagreements++;
        }
      } else if (run.method.name === 'cce') {
        comparisons += Number(rec.comparisons ?? 0);
        kept += Number(rec.kept ?? 0);
        acc(first).critiques += Number(rec.keptA ?? 0);
        acc(second).critiques += Number(rec.keptB ?? 0);
      }
    }
  }
  const systems: Record<string, MethodSystemFigures> = {};
  for (const name of run.systems) {
    const s = sums.get(name) ?? { rouge: 0, bleu: 0, n: 0, critiques: 0 };
    systems[name] = run.method.name === 'reviseval' ? { rougeL: s.n ? s.rouge / s.n : NaN, bleu: s.n ? s.bleu / s.n : NaN } : { critiques: s.critiques };
  }
  return run.method.name === 'reviseval' ? { method: 'reviseval', systems, judgeMetricDisagreements: disagreements, orders } : { method: run.method.name, systems, comparisons, kept };
}
