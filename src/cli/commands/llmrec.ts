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
import { clientFromFlags, loadLlmData, sampleUsers, type DataFlags, type LlmFlags } from '../../llmrec/setup.ts';
import { barChart } from '../../util/plot.ts';
import { dataOptions, llmOptions } from './arena.ts';

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

/** Registers `reclab llmrec probe`. */
export function register(program: Command): void {
  const llmrec = program.command('llmrec').description('LLM as recommender: probes of ranking quality and biases');
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
