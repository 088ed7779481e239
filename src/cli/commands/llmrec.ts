/**
 * `reclab llmrec probe`: the "Beyond Utility" probes of an LLM used as a recommender — history
 * length, candidate position bias and prompt order, profile-involved ranking, hallucination —
 * on sampled users (target among seeded random negatives); writes probe.json, probe.md and an
 * SVG of ndcg@10 per condition.
 *
 *   reclab llmrec probe --data ml-1m.txt --format sasrec --items movies.dat --item-map sas_to_original_items.txt \
 *     --llm openai:qwen2.5-7b-instruct --base-url http://localhost:8000/v1 --users 50 --out runs/probe
 */
import type { Command } from 'commander';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultEmbedder } from '../../llm/index.ts';
import '../../llmrec/scripts.ts';
import { Grounder } from '../../llmrec/grounding.ts';
import { PROBES, buildProbeUsers, runProbes, type Probe, type ProbeResult } from '../../llmrec/probes.ts';
import { clientFromFlags, loadLlmData, resolveSystem, sampleUsers, type DataFlags, type LlmFlags } from '../../llmrec/setup.ts';
import { checkCandidates, sampleCandidates, type CandidateCheck, type CandidateSampling } from '../../llmrec/candidates.ts';
import { runCompare, type CompareResult } from '../../llmrec/compare.ts';
import { barChart } from '../../util/plot.ts';
import { collect, dataOptions, llmOptions } from './arena.ts';

interface ProbeFlags extends DataFlags, LlmFlags {
  llm: string;
  profiler?: string;
  users: string;
  negatives: string;
  probes: string;
  lengths: string;
  embedder: string;
  seed: string;
  out: string;
  progress: boolean;
}

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '–');

/** The Markdown page of a probe run. */
export function probeMarkdown(r: ProbeResult, provider: string, setup: string): string {
  const L = [`# LLM-as-recommender probes`, '', `LLM \`${provider}\`; ${setup}; ${r.nCandidates} candidates per user (target + sampled negatives).`, ''];
  const ks = r.ks;
  L.push(`| condition | probes | n | ${ks.map((k) => `hr@${k}`).join(' | ')} | ndcg@10 | mean target rank | hallucination | out-of-candidates | missing | input-order τ | invalid | template |`);
  L.push(`|---|---|---|${ks.map(() => '---').join('|')}|---|---|---|---|---|---|---|---|`);
  for (const c of r.conditions) {
    const name = [c.condition.name, ...c.condition.aliases].join(' = ');
    L.push(`| ${name} | ${c.condition.probes.join(', ')} | ${c.n} | ${ks.map((k) => f4(c.metrics[`hr@${k}`])).join(' | ')} | ${f4(c.metrics['ndcg@10'])} | ${c.meanTargetRank.toFixed(2)} | ${f4(c.hallucinationRate)} | ${f4(c.outOfCandidateRate)} | ${f4(c.missingRate)} | ${f4(c.inputOrderTau)} | ${c.invalid} | ${c.templates.join(', ')} |`);
  }
  const s = r.summary;
  L.push('', '## Summary', '');
  if (s.length) L.push(`- History length (ndcg@10): ${Object.entries(s.length).map(([k, v]) => `${k} ${f4(v)}`).join(', ')}`);
  if (s.positionGap !== undefined) L.push(`- Position bias: ndcg@10(target first) − ndcg@10(target last) = ${f4(s.positionGap)} (0 = none, 1 = maximal)`);
  if (s.promptOrderEffect !== undefined) L.push(`- Prompt order: ndcg@10(candidates first) − ndcg@10(history first) = ${f4(s.promptOrderEffect)}`);
  if (s.profileEffect !== undefined) L.push(`- Profile: ndcg@10(with) − ndcg@10(without) = ${f4(s.profileEffect)}`);
  if (s.profileOnlyEffect !== undefined) L.push(`- Profile without history: ndcg@10(profile, no history) − ndcg@10(history, no profile) = ${f4(s.profileOnlyEffect)}`);
  if (s.hallucinationRate !== undefined) L.push(`- Hallucination rate over all outputs: ${f4(s.hallucinationRate)}`);
  L.push('', 'Input-order τ is the mean Kendall τ between the order candidates were shown in and the order they came back in (1 = the LLM echoes its input).', '');
  return L.join('\n');
}

interface CompareFlags extends DataFlags, LlmFlags {
  llm: string[];
  models?: string;
  profiler?: string;
  users: string;
  candidates: string;
  sampling: string;
  k: string;
  baseline?: string;
  lengths: string;
  embedder: string;
  seed: string;
  out?: string;
  saveModels?: string;
  progress: boolean;
}

const pv = (p: number): string => (!Number.isFinite(p) ? '–' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
const signed = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(4)}` : '–');

/** Splits `pop,itemknn,sasrec:{"a":1,"b":2}` at commas outside braces. */
export function splitSpecs(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of value) {
    if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The K-S line. */
export function ksLine(c: CandidateCheck): string {
  const what = c.sampling === 'uniform' ? 'uniform over each user\'s unseen items' : 'training popularity over each user\'s unseen items';
  const verdict = c.p < 0.01 ? 'the negatives do NOT follow the intended distribution' : 'consistent with the intended distribution';
  return `K-S check of the sampled negatives against ${what} (probability integral transform of each draw, exact without replacement): D = ${c.statistic.toFixed(4)}, n = ${c.n}, p = ${pv(c.p)} → ${verdict}`;
}

/** The comparison report as Markdown (also what the command prints). */
export function compareMarkdown(r: CompareResult, setup: string, check: CandidateCheck, nItems: number): string {
  const k = r.k;
  const L = [`# LLM vs traditional recommenders on identical candidates`, '', setup, '', ksLine(check), ''];
  L.push(`| system | kind | n | ${r.metricNames.join(' | ')} | Δndcg@${k} vs ${r.baseline} | p (Wilcoxon) |`);
  L.push(`|---|---|---|${r.metricNames.map(() => '---').join('|')}|---|---|`);
  for (const row of r.rows) {
    const vs = row.vsBaseline;
    L.push(`| ${row.system} | ${row.kind} | ${row.n}${row.invalid ? ` (+${row.invalid} invalid)` : ''} | ${r.metricNames.map((m) => f4(row.metrics[m])).join(' | ')} | ${vs ? signed(vs.meanDiff) : 'baseline'} | ${vs ? pv(vs.p) : ''} |`);
  }
  L.push('', `Paired by user (same candidates): Wilcoxon signed-rank test of per-user ndcg@${k} against ${r.baseline}, two-sided, zero differences dropped. Beyond-utility metrics on each system's top-${k}; coverage and Gini over the whole catalogue of ${nItems} items; hallucination = outputs matching no catalogue item / all outputs (LLMs).`);
  for (const llm of [...new Set(r.conditions.map((c) => c.llm))]) {
    L.push('', `## Conditions of ${llm}`, '', `| condition | probes | n | hr@${k} | ndcg@${k} | mrr | hallucination | Δndcg@${k} vs base | p (Wilcoxon) |`, '|---|---|---|---|---|---|---|---|---|');
    for (const c of r.conditions.filter((x) => x.llm === llm)) {
      const name = [c.condition, ...c.aliases].join(' = ');
      L.push(`| ${name} | ${c.probes.join(', ')} | ${c.n} | ${f4(c.metrics[`hr@${k}`])} | ${f4(c.metrics[`ndcg@${k}`])} | ${f4(c.metrics.mrr)} | ${f4(c.hallucinationRate)} | ${c.vsBase ? signed(c.vsBase.meanDiff) : 'base'} | ${c.vsBase ? pv(c.vsBase.p) : ''} |`);
    }
    const pb = r.positionBias.find((p) => p.llm === llm)!;
    const size = pb.gap >= 0.999 ? ' (maximal)' : Math.abs(pb.gap) < 1e-9 ? ' (none)' : '';
    L.push('', `Position bias: ndcg@${k}(target first) − ndcg@${k}(target last) = ${signed(pb.gap)}${size}; Wilcoxon p = ${pv(pb.wilcoxon.p)}; exact sign test ${pb.sign.wins} of ${pb.sign.n} users, p = ${pv(pb.sign.p)}.`);
    const s = r.probes[llm];
    if (s.profileEffect !== undefined) L.push(`Profile: with − without = ${signed(s.profileEffect)}; profile without history − history without profile = ${signed(s.profileOnlyEffect ?? NaN)}.`);
  }
  L.push('');
  return L.join('\n');
}

/** Registers `reclab llmrec probe` and `reclab llmrec compare`. */
export function register(program: Command): void {
  const llmrec = program.command('llmrec').description('LLM as recommender: comparison with traditional models on identical candidates, probes of ranking quality and biases');
  registerCompare(llmrec);
  const cmd = llmrec.command('probe').description('run the Beyond-Utility probes (history length, position bias, profile, hallucination)');
  dataOptions(cmd)
    .requiredOption('--llm <provider>', 'openai:<model>[@url], gguf:<file>, replay:<file.jsonl> or scripted:<identity-ranker|hallucinator|genre-ranker>')
    .option('--profiler <provider>', 'who writes profiles for the profile probe (default: the --llm)')
    .option('--users <n>', 'users sampled', '20')
    .option('--negatives <n>', 'sampled negatives per user', '19')
    .option('--probes <list>', `comma-separated: ${PROBES.join(', ')}`, PROBES.join(','))
    .option('--lengths <list>', 'history lengths of the length probe', '5,10,15,20')
    .option('--embedder <kind>', 'title grounding embeddings: hashed (default) or use (Universal Sentence Encoder)', 'hashed')
    .option('--seed <n>', 'seed of users, negatives and shuffles', '42')
    .requiredOption('--out <dir>', 'report folder')
    .option('--no-progress', 'no progress bars');
  llmOptions(cmd).action(async (o: ProbeFlags) => {
    const probes = o.probes.split(',').map((p) => p.trim()) as Probe[];
    for (const p of probes) if (!PROBES.includes(p)) throw new Error(`--probes: unknown probe "${p}"; known: ${PROBES.join(', ')}`);
    const lengths = o.lengths.split(',').map(Number);
    if (lengths.some((l) => !Number.isInteger(l) || l < 1)) throw new Error(`--lengths: expected positive integers, got "${o.lengths}"`);
    if (o.embedder !== 'hashed' && o.embedder !== 'use') throw new Error(`--embedder: expected hashed or use, got "${o.embedder}"`);
    const seed = Number(o.seed);
    const client = clientFromFlags(o.llm, o);
    const profileClient = o.profiler ? clientFromFlags(o.profiler, o) : undefined;
    try {
      const data = await loadLlmData(o, o.progress);
      const users = sampleUsers(data.split.test, Number(o.users), seed);
      const probeUsers = buildProbeUsers(data.history, data.split.test, data.catalogue, users, Number(o.negatives), seed, (u) => data.dataset.userIds.toRaw(u));
      const grounder = new Grounder(data.catalogue, { embedder: await defaultEmbedder(o.embedder as 'hashed' | 'use') });
      const r = await runProbes(probeUsers, { client, profileClient, grounder, catalogue: data.catalogue, probes, lengths, seed, progress: o.progress ? undefined : false });
      await mkdir(o.out, { recursive: true });
      const setup = `${data.dataset.name} (${data.dataset.fingerprint.slice(0, 12)}), ${users.length} users, leave-one-out test targets, seed ${seed}`;
      const files: [string, string][] = [
        ['probe.json', `${JSON.stringify({ format: 'reclab-llmrec-probe', version: 1, createdAt: new Date().toISOString(), provider: client.provider.id, setup, grounding: grounder.embedder.name, usage: client.ledger.total(), usageByTemplate: client.ledger.perTag(), ...r }, null, 1)}\n`],
        ['probe.md', probeMarkdown(r, client.provider.id, setup)],
        ['probe-ndcg.svg', barChart(r.conditions.map((c) => ({ label: c.condition.name, values: [c.metrics['ndcg@10'] || 0, c.hallucinationRate || 0] })), ['ndcg@10', 'hallucination rate'], { title: `LLM-as-recommender probes (${client.provider.id})`, yLabel: 'value' })],
      ];
      for (const [name, text] of files) {
        await writeFile(join(o.out, `${name}.tmp`), text);
        await rename(join(o.out, `${name}.tmp`), join(o.out, name));
      }
      process.stdout.write(probeMarkdown(r, client.provider.id, setup));
      const t = client.ledger.total();
      process.stdout.write(`${t.calls} calls (${t.cachedCalls} cached), ${t.promptTokens}+${t.completionTokens} tokens, $${t.costUsd.toFixed(4)}, p50 ${t.latencyMs.p50.toFixed(0)} ms; report in ${o.out}\n`);
    } finally {
      await client.close();
      await profileClient?.close();
    }
  });
}

/** `reclab llmrec compare`. */
function registerCompare(llmrec: Command): void {
  const cmd = llmrec
    .command('compare')
    .description('rank identical candidates with LLMs and reclab models: accuracy + beyond-utility table, paired significance against a baseline, the LLM probes as conditions with p-values, and a K-S check of the candidate sampling');
  dataOptions(cmd)
    .option('--llm <provider>', 'an LLM (repeatable): openai:<model>[@url], gguf:<file>, replay:<file.jsonl> or scripted:<identity-ranker|hallucinator|genre-ranker>', collect, [])
    .option('--models <list>', 'comma-separated reclab models: saved model dirs, or registry names[:{json config}] trained here on the leave-one-out train part')
    .option('--profiler <provider>', 'who writes profiles for the profile conditions (default: each --llm itself)')
    .option('--users <n>', 'users sampled', '50')
    .option('--candidates <n>', 'candidates per user, the held-out target included', '20')
    .option('--sampling <how>', 'negatives: uniform or popularity (over items the user never rated)', 'uniform')
    .option('--k <n>', 'cutoff of the metrics', '10')
    .option('--baseline <system>', 'system the others are tested against (default: the first model, else the first LLM)')
    .option('--lengths <list>', 'history lengths of the length conditions (the longest is the base)', '5,10,20')
    .option('--embedder <kind>', 'title grounding embeddings: hashed (default) or use', 'hashed')
    .option('--seed <n>', 'seed of users, candidates, shuffles and training', '42')
    .option('--out <dir>', 'also write compare.json and compare.md here')
    .option('--save-models <dir>', 'save models trained here into <dir>/<name> for reuse')
    .option('--no-progress', 'no progress bars');
  llmOptions(cmd).action(async (o: CompareFlags) => {
    const int = (flag: string, v: string, min: number): number => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < min) throw new Error(`--${flag}: expected an integer ≥ ${min}, got "${v}"`);
      return x;
    };
    const nUsers = int('users', o.users, 1);
    const nCand = int('candidates', o.candidates, 2);
    const k = int('k', o.k, 1);
    const seed = int('seed', o.seed, 0);
    if (o.sampling !== 'uniform' && o.sampling !== 'popularity') throw new Error(`--sampling: expected uniform or popularity, got "${o.sampling}"`);
    const lengths = o.lengths.split(',').map(Number);
    if (lengths.some((l) => !Number.isInteger(l) || l < 1)) throw new Error(`--lengths: expected positive integers, got "${o.lengths}"`);
    if (o.embedder !== 'hashed' && o.embedder !== 'use') throw new Error(`--embedder: expected hashed or use, got "${o.embedder}"`);
    const modelSpecs = o.models ? splitSpecs(o.models) : [];
    if (o.llm.length + modelSpecs.length === 0) throw new Error('give at least one --llm or --models');
    const clients = o.llm.map((spec) => clientFromFlags(spec, o));
    const profiler = o.profiler ? clientFromFlags(o.profiler, o) : undefined;
    try {
      const data = await loadLlmData(o, o.progress);
      const { dataset, split, catalogue } = data;
      const popularity = new Float64Array(dataset.nItems);
      for (let p = 0; p < split.train.items.length; p++) popularity[split.train.items[p]]++;
      const users = sampleUsers(split.test, nUsers, seed);
      const cand = sampleCandidates(data.history, split.test, catalogue, users, { n: nCand, sampling: o.sampling as CandidateSampling, popularity, seed, label: (u) => dataset.userIds.toRaw(u) });
      const seen = (u: { user: number; target: number }): Set<number> => {
        const s = new Set<number>(data.history.items.subarray(data.history.offsets[u.user], data.history.offsets[u.user + 1]));
        s.add(u.target);
        return s;
      };
      const check = checkCandidates(cand, o.sampling as CandidateSampling, popularity, seen, seed);
      const models = [];
      for (const spec of modelSpecs) {
        const s = await resolveSystem(spec, split, seed, o.saveModels, o.progress);
        models.push({ name: s.name, model: s.model, origin: s.origin });
      }
      const grounder = new Grounder(catalogue, { embedder: await defaultEmbedder(o.embedder as 'hashed' | 'use') });
      const r = await runCompare(cand, {
        llms: clients.map((client, i) => ({ name: o.llm[i], client, profileClient: profiler })),
        models,
        grounder,
        catalogue,
        train: split.train,
        history: data.history,
        k,
        baseline: o.baseline,
        lengths,
        seed,
        progress: o.progress ? undefined : false,
      });
      const setup = `${dataset.name} (${dataset.fingerprint.slice(0, 12)}), ${r.users} users, ${r.nCandidates} candidates each (the leave-one-out test target + ${r.nCandidates - 1} ${o.sampling} negatives the user never rated), identical for every system; seed ${seed}; LLM base condition: last ${Math.max(...lengths)} history events, target at a random position, no profile.`;
      const md = compareMarkdown(r, setup, check, dataset.nItems);
      process.stdout.write(md);
      const usage = clients.map((c) => ({ llm: c.provider.id, ...c.ledger.total() }));
      for (const u of usage) process.stdout.write(`${u.llm}: ${u.calls} calls (${u.cachedCalls} cached), ${u.promptTokens}+${u.completionTokens} tokens${u.estimatedCalls ? ' (estimated)' : ''}, $${u.costUsd.toFixed(4)}, p50 ${u.latencyMs.p50.toFixed(0)} ms\n`);
      if (o.out) {
        await mkdir(o.out, { recursive: true });
        const json = {
          format: 'reclab-llmrec-compare',
          version: 1,
          createdAt: new Date().toISOString(),
          setup,
          dataset: { name: dataset.name, fingerprint: dataset.fingerprint, source: dataset.provenance.source },
          split: split.protocol,
          sampling: o.sampling,
          candidateCheck: check,
          models: models.map((m) => ({ name: m.name, origin: m.origin, config: m.model.config })),
          grounding: grounder.embedder.name,
          usage,
          candidates: cand.map((u) => ({ user: u.label, dense: u.user, target: u.target, negatives: u.negatives })),
          ...r,
        };
        for (const [name, text] of [['compare.json', `${JSON.stringify(json, null, 1)}\n`], ['compare.md', md]] as const) {
          await writeFile(join(o.out, `${name}.tmp`), text);
          await rename(join(o.out, `${name}.tmp`), join(o.out, name));
        }
        process.stdout.write(`report: ${join(o.out, 'compare.json')}, ${join(o.out, 'compare.md')}\n`);
      }
    } finally {
      for (const c of clients) await c.close();
      await profiler?.close();
    }
  });
}
