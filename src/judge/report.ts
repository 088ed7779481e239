/**
 * Writes an Arena run as a report folder: `arena.json` (every match with both raw verdicts, the
 * summary, usage and provenance), `arena.md` (tables a person reads) and two SVG plots — win /
 * tie / loss rates per pair on the overall dimension, and Bradley–Terry ratings per dimension.
 */
import type { MethodSummary } from './method-summary.ts';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UsageTotals } from '../llm/index.ts';
import { barChart } from '../util/plot.ts';
import { DIMENSIONS, type ArenaRun } from './arena.ts';
import { rankingText, type ArenaSummary, type Ratings } from './summary.ts';
import type { PanelAgreement } from './panel.ts';
import type { Interval } from './stats.ts';
import type { ArenaPool } from './human.ts';

/** Provenance and settings recorded with the report. */
export interface ArenaReportContext {
  /** Free-form description of data, split and systems (JSON). */
  setup: Record<string, unknown>;
  usage: UsageTotals;
  /** Usage per prompt template (profile, judge). */
  usageByTemplate?: Record<string, UsageTotals>;
  /** Template ids used besides the judge's (e.g. `profile@1`). */
  templates?: string[];
  /** With several judges: each judge's own run and summary, and their agreement (the main run is then the majority). */
  panel?: { judges: { run: ArenaRun; summary: ArenaSummary }[]; agreement: Record<string, PanelAgreement> };
  /** The users' histories and the systems' lists, so people can vote on the same pairs (the dashboard's Arena page). */
  pool?: ArenaPool;
  /** The judge method when not pairwise (RevisEval / CCE) and what it measured. */
  judgeMethod?: { name: string; scorer?: string; crowd?: string[]; summaries: MethodSummary[] };
}

const pValue = (p: number): string => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));

/** `1012 [980, 1040]` for system i. */
export function ratingWithInterval(r: Ratings, i: number): string {
  const iv = r.interval[i];
  return Number.isFinite(iv.lo) ? `${r.rating[i].toFixed(0)} [${iv.lo.toFixed(0)}, ${iv.hi.toFixed(0)}]` : r.rating[i].toFixed(0);
}

/** The ratings table (every dimension, each rating with its bootstrap interval). */
function ratingsTable(systems: readonly string[], s: ArenaSummary): string[] {
  const L = [`| system | ${DIMENSIONS.join(' | ')} |`, `|---|${DIMENSIONS.map(() => '---').join('|')}|`];
  for (const [i, name] of systems.entries()) L.push(`| ${name} | ${DIMENSIONS.map((d) => ratingWithInterval(s.ratings[d], i)).join(' | ')} |`);
  return L;
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');
const ci = (i: Interval): string => `${pct(i.estimate)} [${pct(i.lo)}, ${pct(i.hi)}]`;

/** The judge method's section: RevisEval's metrics against the revised references, CCE's kept crowd comparisons. */
function methodSection(m: NonNullable<ArenaReportContext['judgeMethod']>): string[] {
  const f = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(4) : 'n/a');
  const L = [`## Judge method: ${m.name}${m.scorer ? ` (overall verdict by ${m.scorer})` : ''}${m.crowd ? ` (crowd: ${m.crowd.map((c) => `\`${c}\``).join(', ')})` : ''}`, ''];
  for (const s of m.summaries) {
    if (s.method === 'reviseval') {
      L.push('| system | ROUGE-L vs revised reference | BLEU-4 vs revised reference |', '|---|---|---|', ...Object.entries(s.systems).map(([n, v]) => `| ${n} | ${f(v.rougeL)} | ${f(v.bleu)} |`));
      L.push('', `The judge's overall verdict differs from ROUGE-L's in ${s.judgeMetricDisagreements} of ${s.orders} judged orders.`, '');
    } else {
      L.push(`${s.kept} of ${s.comparisons} crowd comparisons kept (criticising selection), verdicts removed before the final judgment.`, '', '| system | kept critiques of its lists |', '|---|---|', ...Object.entries(s.systems).map(([n, v]) => `| ${n} | ${v.critiques ?? 0} |`), '');
    }
  }
  return L;
}

/** The Markdown page. */
export function arenaMarkdown(run: ArenaRun, s: ArenaSummary, ctx: ArenaReportContext): string {
  const L: string[] = [];
  L.push(`# Recommendation Arena`, '');
  L.push(`Judge \`${run.judge}\`, template \`${run.template}\`${ctx.templates?.length ? ` (also ${ctx.templates.map((t) => `\`${t}\``).join(', ')})` : ''}, top-${run.k} lists, ${new Set(run.matches.map((m) => m.user)).size} users, ${run.matches.length} matches.`);
  L.push('', 'Each pair is judged in both orders; a dimension is a win only when both orders pick the same system, otherwise a tie. Intervals are 95 % Wilson intervals.', '');
  L.push(`## Overall verdict`, '', '| A | B | n | A wins | B wins | ties | invalid | binomial p (A vs B wins, ties left out) |', '|---|---|---|---|---|---|---|---|');
  for (const p of s.pairs) {
    const o = p.dimensions.overall;
    L.push(`| ${p.a} | ${p.b} | ${o.n} | ${ci(o.winRateA)} | ${ci(o.winRateB)} | ${ci(o.tieRate)} | ${o.invalid} | ${pValue(o.binomial.p)} (${o.binomial.successes} of ${o.binomial.n}) |`);
  }
  L.push('', `## Per dimension (A wins / B wins / ties)`, '', `| A | B | ${DIMENSIONS.join(' | ')} |`, `|---|---|${DIMENSIONS.map(() => '---').join('|')}|`);
  for (const p of s.pairs) L.push(`| ${p.a} | ${p.b} | ${DIMENSIONS.map((d) => `${p.dimensions[d].winsA} / ${p.dimensions[d].winsB} / ${p.dimensions[d].ties}`).join(' | ')} |`);
  const bs = s.ratings.overall.bootstrap;
  L.push('', `## Bradley–Terry ratings (Elo scale, ties ½, one virtual tie per pair; [${Math.round(100 * bs.level)} % bootstrap interval over users, ${bs.reps} resamples, seed ${bs.seed}])`, '', ...ratingsTable(run.systems, s));
  L.push('', `Overall ranking: ${rankingText(s.ratings.overall)}`, '', '">" only where the bootstrap interval of the rating difference excludes 0; "≈" where it does not; "=" for equal ratings.', '');
  if (ctx.judgeMethod) L.push(...methodSection(ctx.judgeMethod));
  if (ctx.panel) {
    L.push(`## Judges`, '', `| dimension | Fleiss' κ | observed agreement | chance agreement | matches | left out (an invalid verdict) |`, '|---|---|---|---|---|---|');
    for (const d of DIMENSIONS) {
      const a = ctx.panel.agreement[d];
      L.push(`| ${d} | ${Number.isFinite(a.kappa) ? a.kappa.toFixed(3) : 'undefined (one category only)'} | ${a.observed.toFixed(3)} | ${a.expected.toFixed(3)} | ${a.items} | ${a.excluded} |`);
    }
    for (const j of ctx.panel.judges) {
      L.push('', `### Judge \`${j.run.judge}\``, '', ...ratingsTable(j.run.systems, j.summary), '', `Overall ranking: ${rankingText(j.summary.ratings.overall)}`);
      for (const p of j.summary.pairs) {
        const o = p.dimensions.overall;
        L.push(`- ${p.a} vs ${p.b}: ${o.winsA} / ${o.winsB} / ${o.ties} (wins / wins / ties), binomial p ${pValue(o.binomial.p)}`);
      }
    }
    L.push('', 'The tables above this section are the panel\'s majority verdicts.', '');
  }
  if (s.agreement) {
    const a = s.agreement;
    L.push(`## Agreement with offline ${a.metric}`, '', `| system | arena rating | ${a.metric} |`, '|---|---|---|');
    a.systems.forEach((sys, i) => L.push(`| ${sys} | ${a.arena[i].toFixed(0)} | ${a.offline[i].toFixed(4)} |`));
    L.push('', `Kendall τ-b between the two rankings: **${a.kendallTauB !== null ? a.kendallTauB.toFixed(3) : a.note}**${a.kendallTauB !== null && a.systems.length < 5 ? ` (only ${a.systems.length} systems: τ can take few values)` : ''}.`, '');
  }
  L.push(`## Judge behaviour`, '');
  // A panel's majority run has no raw replies: each judge's own behaviour is what there is to show.
  const behaviours = ctx.panel ? ctx.panel.judges.map((j) => ({ name: ` of \`${j.run.judge}\``, b: j.summary.judge })) : [{ name: '', b: s.judge }];
  for (const { name, b } of behaviours) {
    L.push(`- Verdicts${name} naming the list shown first (of non-tie verdicts): ${ci(b.firstShownShare)} — 50 % is position-neutral.`);
    L.push(`- Order consistency${name} (same system, or tie, in both orders): ${ci(b.orderConsistency)}.`);
  }
  L.push('');
  const u = ctx.usage;
  L.push(`## Cost`, '', `${u.calls} calls (${u.cachedCalls} from cache), ${u.promptTokens} prompt + ${u.completionTokens} completion tokens${u.estimatedCalls ? ` (${u.estimatedCalls} calls estimated)` : ''}, $${u.costUsd.toFixed(4)}, latency p50 ${u.latencyMs.p50.toFixed(0)} ms / p95 ${u.latencyMs.p95.toFixed(0)} ms, ${u.retries} retries, ${u.repairs} repairs, ${u.failures} failures.`, '');
  const examples = (ctx.panel ? ctx.panel.judges.flatMap((j) => j.run.matches.filter((m) => m.forward).slice(0, 1)) : run.matches.filter((m) => m.forward).slice(0, 3));
  if (examples.length) {
    L.push(`## Example explanations`, '');
    for (const m of examples) L.push(`- user ${m.userLabel}, ${m.a} (shown as A) vs ${m.b}: overall ${m.forward!.overall} — ${m.forward!.explanation.replace(/\n/g, ' ')}`);
    L.push('');
  }
  L.push('Plots: `arena-winrates.svg`, `arena-ratings.svg`. Every match with both raw verdicts: `arena.json`.', '');
  return L.join('\n');
}

/** Writes arena.json, arena.md and the plots into `dir` (each file written whole, then renamed into place). */
export async function writeArenaReport(dir: string, run: ArenaRun, summary: ArenaSummary, ctx: ArenaReportContext): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [];
  files.push(['arena.json', `${JSON.stringify({ format: 'reclab-arena', version: 1, createdAt: new Date().toISOString(), ...ctx, run, summary }, null, 2)}\n`]);
  files.push(['arena.md', arenaMarkdown(run, summary, ctx)]);
  const half = (i: Interval): number => (Number.isFinite(i.estimate) ? (i.hi - i.lo) / 2 : 0);
  files.push([
    'arena-winrates.svg',
    barChart(
      summary.pairs.map((p) => {
        const o = p.dimensions.overall;
        return { label: `${p.a} vs ${p.b}`, values: [o.winRateA.estimate || 0, o.tieRate.estimate || 0, o.winRateB.estimate || 0], errors: [half(o.winRateA), half(o.tieRate), half(o.winRateB)] };
      }),
      ['first system wins', 'tie', 'second system wins'],
      { title: 'Arena overall verdict (± 95% Wilson half-width)', yLabel: 'share of matches', yRange: [0, 1] },
    ),
  ]);
  files.push([
    'arena-ratings.svg',
    barChart(
      DIMENSIONS.map((d) => ({ label: d, values: run.systems.map((_, i) => summary.ratings[d].rating[i]) })),
      run.systems,
      { title: 'Bradley–Terry ratings per dimension (Elo scale)', yLabel: 'rating' },
    ),
  ]);
  const written: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
    written.push(path);
  }
  return written;
}
