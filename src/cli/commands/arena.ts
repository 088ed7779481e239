/**
 * `reclab arena`: the Recommendation Arena on a dataset — an LLM judge role-plays sampled users
 * (from an LLM-written profile and their history) and compares systems' top-k lists on relevance,
 * diversity, novelty, coverage and overall, each pair in both orders; writes a Markdown + JSON
 * report with win-rate and rating plots, and the agreement with offline ndcg@10.
 *
 *   reclab arena --data ml-1m.txt --format sasrec --items movies.dat --item-map sas_to_original_items.txt \
 *     --a 'sasrec:{"epochs":20}' --b pop --judge openai:qwen2.5-7b-instruct --base-url http://localhost:8000/v1
 */
import type { Command } from 'commander';
import type { LLMClient } from '../../llm/index.ts';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { DIMENSIONS, JUDGE_METHODS, arenaPool, parseVotesJsonl, summarizeHuman, type HumanVote, combineJudges, crowdEval, pairwise, revisEval, summarizeMethod, type JudgeMethod, type MethodSummary, rankingText, ratingWithInterval, runArena, summarize, writeArenaReport, type ArenaItem, type ArenaRun, type ArenaSummary, type ArenaSystem, type ArenaUser, type Panel } from '../../judge/index.ts';
import '../../judge/scripts.ts';
import '../../llmrec/scripts.ts';
import { generateProfile } from '../../llmrec/profile.ts';
import { userDemographics } from '../../llmrec/demographics.ts';
import { userHistory } from '../../llmrec/history.ts';
import { clientFromFlags, loadLlmData, offlineMetrics, resolveSystem, sampleUsers, topLists, type DataFlags, type LlmFlags, type System } from '../../llmrec/setup.ts';

interface ArenaFlags extends DataFlags, LlmFlags {
  a: string;
  b: string;
  system: string[];
  judge: string[];
  profiler?: string;
  demographics: boolean;
  bootstrap: string;
  users: string;
  k: string;
  history: string;
  seed: string;
  out?: string;
  saveModels?: string;
  offline: boolean;
  progress: boolean;
  judgeMethod: string;
  crowd: string[];
  reviser?: string;
  reviseScorer: string;
  humanVotes?: string;
}

/** Adds the LLM client flags shared by the LLM verbs. */
export function llmOptions(cmd: Command): Command {
  return cmd
    .option('--base-url <url>', 'base URL of an OpenAI-compatible server for openai:<model> specs (default $RECLAB_LLM_BASE_URL; key from $RECLAB_LLM_API_KEY or $OPENAI_API_KEY)')
    .option('--cache <dir>', 'response cache folder', '.cache/llm')
    .option('--no-cache', 'do not cache responses')
    .option('--record <file.jsonl>', 'append every reply to this file (replay later with replay:<file>)')
    .option('--concurrency <n>', 'LLM calls in flight', '4')
    .option('--rpm <n>', 'at most this many calls per minute')
    .option('--price-in <usd>', 'US$ per million prompt tokens (cost accounting)', '0')
    .option('--price-out <usd>', 'US$ per million completion tokens', '0')
    .option('--structured <mode>', 'structured output: json_schema, json_object or prompt', 'json_schema')
    .option('--threads <n>', 'gguf: CPU threads')
    .option('--context <n>', 'gguf: context size in tokens');
}

/** Adds the data flags shared by the LLM verbs. */
export function dataOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--data <source>', 'dataset path or registry name')
    .option('--format <fmt>', 'reader format (auto-detected by default)', 'auto')
    .option('--items <movies.dat>', 'MovieLens movies.dat for titles and genres when the dataset has none')
    .option('--item-map <file>', 'dataset item id → movies.dat id map (e.g. sas_to_original_items.txt)');
}

/** Commander reducer of a repeatable option: every value, in order. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];
type LLMClientLedgerTotal = LLMClient['ledger']['total'];
const int = (flag: string, v: string, min = 0): number => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${flag}: expected an integer ≥ ${min}, got "${v}"`);
  return x;
};

/** Registers `reclab arena`. */
export function register(program: Command): void {
  const cmd = program.command('arena').description('LLM-judged pairwise comparison of recommenders (RecSys Arena): win rates, Bradley–Terry ratings, agreement with ndcg@10');
  dataOptions(cmd)
    .requiredOption('--a <system>', 'first system: saved model dir, or registry name[:{json config}] trained here on the LOO train part')
    .requiredOption('--b <system>', 'second system (same forms)')
    .option('--system <system>', 'further systems (repeatable): every pair is judged', collect, [])
    .requiredOption('--judge <provider>', 'openai:<model>[@url], gguf:<file>, replay:<file.jsonl> or scripted:<name>; repeat for a panel of judges (agreement by Fleiss\' κ, majority verdict)', collect, [])
    .option('--profiler <provider>', 'who writes user profiles (default: the first judge; scripted:genre-profiler for scripted judges)')
    .option('--no-demographics', 'do not show the data\'s user features (age, gender, occupation…) to the judge')
    .option('--bootstrap <n>', 'bootstrap resamples of users for rating intervals', '1000')
    .option('--users <n>', 'users sampled', '20')
    .option('--k <n>', 'length of the compared lists', '10')
    .option('--history <n>', 'last history events shown to profiler and judge', '20')
    .option('--seed <n>', 'seed of user sampling and training', '42')
    .option('--out <dir>', 'report folder (default runs/arena-<time>)')
    .option('--save-models <dir>', 'save systems trained here into <dir>/<name> for reuse')
    .option('--no-offline', 'skip the offline ndcg@10 evaluation')
    .option('--no-progress', 'no progress bars')
    .option('--judge-method <name>', `judging method: ${JUDGE_METHODS.join(', ')} (RevisEval: a revised reference; CCE: crowd comparisons as context)`, 'pairwise')
    .option('--crowd <provider>', 'cce: a crowd model (repeatable; the same spec twice counts once)', collect, [])
    .option('--reviser <provider>', 'reviseval: who revises (default: the judge)')
    .option('--revise-scorer <scorer>', 'reviseval: who decides the overall verdict — llm (judge with the reference), rouge-l or bleu (metric against it)', 'llm')
    .option('--human-votes <file.jsonl>', "people's votes on the same pairs (the dashboard's JSONL export): report this judge method's agreement with them (Cohen's κ)");
  llmOptions(cmd).action(async (o: ArenaFlags) => {
    const seed = int('seed', o.seed);
    const nUsers = int('users', o.users, 1);
    const k = int('k', o.k, 1);
    const histLen = int('history', o.history, 1);
    const reps = int('bootstrap', o.bootstrap, 0);
    if (new Set(o.judge).size !== o.judge.length) throw new Error(`--judge: the same judge twice (${o.judge.join(', ')}); a panel needs distinct judges`);
    const judges = o.judge.map((spec) => clientFromFlags(spec, o));
    const judge = judges[0];
    const profilerSpec = o.profiler ?? (o.judge[0].startsWith('scripted:') ? 'scripted:genre-profiler' : o.judge[0]);
    const profiler = profilerSpec === o.judge[0] ? judge : clientFromFlags(profilerSpec, o);
    if (!(JUDGE_METHODS as readonly string[]).includes(o.judgeMethod)) throw new Error(`--judge-method: expected one of ${JUDGE_METHODS.join(', ')}, got "${o.judgeMethod}"`);
    if (!['llm', 'rouge-l', 'bleu'].includes(o.reviseScorer)) throw new Error(`--revise-scorer: expected llm, rouge-l or bleu, got "${o.reviseScorer}"`);
    if (o.judgeMethod === 'cce' && !o.crowd.length) throw new Error('--judge-method cce needs at least one --crowd <provider>');
    if (o.judgeMethod !== 'cce' && o.crowd.length) throw new Error('--crowd is for --judge-method cce');
    // Read before any LLM call, so a bad votes file costs nothing.
    const humanVotes: HumanVote[] | undefined = o.humanVotes !== undefined ? parseVotesJsonl(readFileSync(o.humanVotes, 'utf8'), o.humanVotes) : undefined;
    // Extra clients of the method (reviser, crowd); a spec equal to the first judge's reuses its client.
    const extra = new Map<string, LLMClient>();
    const clientFor = (spec: string): LLMClient => (spec === o.judge[0] ? judge : (extra.get(spec) ?? extra.set(spec, clientFromFlags(spec, o)).get(spec)!));
    const methodFor = (client: LLMClient): JudgeMethod =>
      o.judgeMethod === 'reviseval'
        ? revisEval({ reviser: o.reviser ? clientFor(o.reviser) : client, scorer: o.reviseScorer as 'llm' | 'rouge-l' | 'bleu' })
        : o.judgeMethod === 'cce'
          ? crowdEval({ crowd: [...new Set(o.crowd)].map(clientFor), judge: client })
          : pairwise;
    try {
      const data = await loadLlmData(o, o.progress);
      const { dataset, split, catalogue } = data;
      process.stderr.write(`${dataset.name}: ${dataset.nUsers} users, ${dataset.nItems} items, ${dataset.items.length} events; titles from ${catalogue.source}\n`);
      const systems: System[] = [];
      for (const spec of [o.a, o.b, ...o.system]) systems.push(await resolveSystem(spec, split, seed, o.saveModels, o.progress));
      const names = systems.map((s) => s.name);
      if (new Set(names).size !== names.length) throw new Error(`systems must have distinct names, got ${names.join(', ')}`);
      const users = sampleUsers(split.test, nUsers, seed);
      const popularity = new Float64Array(dataset.nItems);
      for (let p = 0; p < split.train.items.length; p++) popularity[split.train.items[p]]++;
      const asItem = (id: number): ArenaItem => ({ id, title: catalogue.titles[id], genres: catalogue.genres[id], popularity: popularity[id] });
      const offline: Record<string, number> = {};
      const arenaSystems: ArenaSystem[] = [];
      for (const s of systems) {
        const lists = topLists(s.model, users, data.history, k);
        arenaSystems.push({ name: s.name, lists: new Map([...lists].map(([u, l]) => [u, l.map(asItem)])) });
        if (o.offline) offline[s.name] = (await offlineMetrics(s.model, data, ['ndcg@10'], o.progress))['ndcg@10'];
      }
      const arenaUsers: ArenaUser[] = [];
      const profiles = await Promise.all(
        Array.from(users, (u) => {
          const history = userHistory(data.history, u, catalogue, histLen);
          return generateProfile(profiler, u, dataset.userIds.toRaw(u), history).then((p) => ({ p, history }));
        }),
      );
      for (const { p, history } of profiles) {
        const demographics = o.demographics ? userDemographics(dataset, p.user) : undefined;
        arenaUsers.push({ user: p.user, label: p.label, profile: p.profile, history: history.map((h) => ({ ...h, popularity: popularity[h.id] })), ...(demographics ? { demographics } : {}) });
      }
      const offlineArg = o.offline ? { metric: 'ndcg@10', values: offline } : undefined;
      const ratingOptions = { reps, seed };
      const runs: ArenaRun[] = [];
      for (const client of judges) runs.push(await runArena(arenaSystems, arenaUsers, { client, k, progress: o.progress ? undefined : false, method: methodFor(client) }));
      let run = runs[0];
      let panel: Panel | undefined;
      let perJudge: { run: ArenaRun; summary: ArenaSummary }[] = [];
      if (runs.length > 1) {
        panel = combineJudges(runs);
        run = panel.majority;
        perJudge = runs.map((r) => ({ run: r, summary: summarize(r, offlineArg, ratingOptions) }));
      }
      const summary = summarize(run, offlineArg, ratingOptions);
      const out = o.out ?? join('runs', `arena-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const usage = sumUsage([...judges, ...[...extra.values()].filter((c) => c !== profiler)].map((j) => j.ledger.total()));
      const methodSummaries = runs.map(summarizeMethod).filter((m): m is MethodSummary => m !== undefined);
      const files = await writeArenaReport(out, run, summary, {
        setup: {
          dataset: { name: dataset.name, fingerprint: dataset.fingerprint, source: dataset.provenance.source, format: dataset.provenance.format },
          split: split.protocol,
          titles: catalogue.source,
          systems: systems.map((s) => ({ name: s.name, origin: s.origin, config: s.model.config })),
          users: Array.from(users, (u) => dataset.userIds.toRaw(u)),
          seed,
          historyShown: histLen,
          demographics: o.demographics && dataset.userSide ? 'user side-table features except zip codes, in the judge prompt' : 'none',
          judges: judges.map((j) => j.provider.id),
          profiler: profiler.provider.id,
          profiles: profiles.map(({ p }) => p),
          offline: o.offline ? { metric: 'ndcg@10', protocol: 'full ranking, test stage, history train ∪ valid excluded', values: offline } : undefined,
        },
        usage,
        usageByTemplate: { ...profiler.ledger.perTag(), ...judge.ledger.perTag() },
        templates: [...new Set([...profiles.map(({ p }) => p.template), ...(run.method?.templates ?? runs[0].method?.templates ?? [])])],
        ...(panel ? { panel: { judges: perJudge, agreement: panel.agreement } } : {}),
        pool: arenaPool(arenaUsers, arenaSystems, k),
        ...(methodSummaries.length ? { judgeMethod: { name: o.judgeMethod, ...(o.judgeMethod === 'reviseval' ? { scorer: o.reviseScorer } : { crowd: [...new Set(o.crowd)] }), summaries: methodSummaries } } : {}),
      });
      const line = (text: string): boolean => process.stdout.write(`${text}\n`);
      line(`Arena (${run.judge}, ${run.template}, judge method ${o.judgeMethod}): ${users.length} users × ${summary.pairs.length} pairs × 2 orders`);
      for (const [i, m] of methodSummaries.entries()) printMethod(m, judges.length > 1 ? judges[i].provider.id : '', line);
      if (panel) {
        for (const j of perJudge) {
          line(`  judge ${j.run.judge}:`);
          printSummary(j.summary, '    ', line);
        }
        line(`  Fleiss' κ between the ${judges.length} judges (${panel.agreement.overall.items} matches every judge answered): ${DIMENSIONS.map((d) => `${d} ${fmtKappa(panel!.agreement[d].kappa)}`).join(', ')}`);
        line(`  majority verdict of the panel:`);
      }
      printSummary(summary, panel ? '    ' : '  ', line);
      if (summary.agreement) {
        const a = summary.agreement;
        line(`  ndcg@10: ${a.systems.map((s, i) => `${s} ${a.offline[i].toFixed(4)}`).join(', ')}; Kendall τ-b ${a.kendallTauB !== null ? a.kendallTauB.toFixed(3) : a.note}`);
      }
      if (humanVotes) {
        // The judge method's verdicts against people's on the same (user, pair): the figure that
        // says which method to trust, where the dashboard's human Arena has votes.
        const human = summarizeHuman(names, humanVotes, run, ratingOptions);
        const a = human.agreement;
        const agreement = a && a.n > 0 ? `Cohen's κ ${Number.isFinite(a.kappa) ? a.kappa.toFixed(3) : 'not defined'}, agreement ${(100 * a.percent).toFixed(1)} % over ${a.n} pairs judged by both` : 'no pair judged by both';
        line(`  human agreement of judge method ${o.judgeMethod}: ${agreement} (${human.votes} votes from ${human.voters} voters)`);
        const file = join(out, 'human-agreement.json');
        writeFileSync(file, `${JSON.stringify({ judgeMethod: o.judgeMethod, votesFile: o.humanVotes, ...human }, null, 2)}\n`);
        files.push(file);
      }
      process.stdout.write(`  ${usage.calls} calls (${usage.cachedCalls} cached), ${usage.promptTokens + usage.completionTokens} tokens, $${usage.costUsd.toFixed(4)}\n`);
      process.stdout.write(`report: ${files.join(', ')}\n`);
    } finally {
      for (const j of judges) await j.close();
      if (profiler !== judge) await profiler.close();
      for (const c of extra.values()) if (c !== profiler) await c.close();
    }
  });
}

/** The judge method's own figures (RevisEval: metrics against the references; CCE: crowd comparisons kept). */
function printMethod(m: MethodSummary, judge: string, line: (text: string) => boolean): void {
  const who = judge ? ` (${judge})` : '';
  const f = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(4) : 'n/a');
  if (m.method === 'reviseval') {
    line(`  RevisEval${who}: against the revised references — ${Object.entries(m.systems).map(([s, v]) => `${s} ROUGE-L ${f(v.rougeL)}, BLEU ${f(v.bleu)}`).join('; ')}`);
    line(`  RevisEval${who}: the judge's overall verdict differs from ROUGE-L's in ${m.judgeMetricDisagreements} of ${m.orders} judged orders`);
  } else line(`  CCE${who}: ${m.kept} of ${m.comparisons} crowd comparisons kept (they criticise the candidate); kept critiques per system: ${Object.entries(m.systems).map(([s, v]) => `${s} ${v.critiques}`).join(', ')}`);
}

const fmtKappa = (k: number): string => (Number.isFinite(k) ? k.toFixed(3) : 'undefined (one category only)');

/** Adds up the usage of several clients (the fields reports print). */
function sumUsage(us: ReturnType<LLMClientLedgerTotal>[]): ReturnType<LLMClientLedgerTotal> {
  const t = { ...us[0], latencyMs: { ...us[0].latencyMs } };
  for (const u of us.slice(1)) {
    t.calls += u.calls;
    t.cachedCalls += u.cachedCalls;
    t.promptTokens += u.promptTokens;
    t.completionTokens += u.completionTokens;
    t.estimatedCalls += u.estimatedCalls;
    t.costUsd += u.costUsd;
    t.retries += u.retries;
    t.repairs += u.repairs;
    t.failures += u.failures;
    t.latencyMs.p50 = Math.max(t.latencyMs.p50, u.latencyMs.p50);
    t.latencyMs.p95 = Math.max(t.latencyMs.p95, u.latencyMs.p95);
  }
  return t;
}

/** Pair results, binomial tests, ratings with intervals and the ranking of one summary. */
function printSummary(s: ArenaSummary, indent: string, line: (text: string) => boolean): void {
  const pv = (p: number): string => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
  for (const p of s.pairs) {
    const d = p.dimensions.overall;
    line(`${indent}${p.a} vs ${p.b}: ${d.winsA} / ${d.winsB} / ${d.ties} (wins / wins / ties), ${p.a} win rate ${(100 * d.winRateA.estimate).toFixed(1)}% [${(100 * d.winRateA.lo).toFixed(1)}, ${(100 * d.winRateA.hi).toFixed(1)}], binomial p ${pv(d.binomial.p)} (${d.binomial.successes} of ${d.binomial.n} decisive)`);
  }
  const r = s.ratings.overall;
  line(`${indent}ratings (overall, ${Math.round(100 * r.bootstrap.level)} % bootstrap intervals): ${r.systems.map((name, i) => `${name} ${ratingWithInterval(r, i)}`).join(', ')}`);
  for (const d of DIMENSIONS.slice(0, -1)) line(`${indent}${d}: ${s.ratings[d].systems.map((name, i) => `${name} ${ratingWithInterval(s.ratings[d], i)}`).join(', ')}`);
  line(`${indent}Overall ranking: ${rankingText(r)}`);
}
