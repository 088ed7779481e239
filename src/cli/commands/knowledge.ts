/**
 * `reclab knowledge …`: KAR knowledge for a CTR view (src/knowledge, docs/knowledge.md).
 *
 *   reclab knowledge build <ml-100k dir> --out <file.rkv> [--mode individual|collective] [--budget N]
 *                          [--llm <spec> [LLM flags]] [--embedder use|hashed|auto|openai:<model>] [--dry-run]
 *
 * Without --llm the offline knowledge source writes the text from metadata (labelled as such in
 * the vectors file and every report). --dry-run prints the number of calls and the estimated
 * tokens and cost, and calls nothing.
 */
import type { Command } from 'commander';
import { buildCtrMovieLens100k } from '../../data/ctr.ts';
import { buildKnowledge } from '../../knowledge/build.ts';
import { embedderFromSpec } from '../../knowledge/embedders.ts';
import { buildKnowledgeRequests, estimatePlan, LlmKnowledgeSource, OfflineKnowledgeSource } from '../../knowledge/kar.ts';
import { clientFromFlags, type LlmFlags } from '../../llmrec/setup.ts';
import { llmOptions } from './arena.ts';

interface BuildFlags extends LlmFlags {
  out?: string;
  mode: string;
  budget?: string;
  llm?: string;
  embedder: string;
  dryRun?: boolean;
  maxTokens: string;
  embedBaseUrl?: string;
}

/** Registers `reclab knowledge`. */
export function register(program: Command): void {
  const k = program.command('knowledge').description('LLM knowledge for recommenders: KAR extraction, encoding, pre-stored vectors');
  const build = k
    .command('build')
    .description('extract user / item knowledge (KAR factorization prompts), encode it and write the vectors file')
    .argument('<source>', 'MovieLens-100K folder (u.data, u.user, u.item)')
    .option('--out <file.rkv>', 'vectors file to write')
    .option('--mode <mode>', 'individual (one call per user and item) or collective (one per cluster)', 'individual')
    .option('--budget <n>', 'collective: total calls (clusters), split between users and items')
    .option('--llm <spec>', 'openai:<model>[@url], gguf:<file>, replay:<file.jsonl>; omitted: the offline metadata source')
    .option('--embedder <kind>', 'use (sentence encoder), hashed, auto, or openai:<model> (an OpenAI-compatible /embeddings endpoint)', 'auto')
    .option('--embed-base-url <url>', 'base URL of the embeddings endpoint (default: --base-url, $RECLAB_LLM_BASE_URL)')
    .option('--max-tokens <n>', 'completion cap per call (also the dry-run estimate)', '400')
    .option('--dry-run', 'print the call count and estimated tokens / cost; call nothing');
  llmOptions(build).action(async (source: string, o: BuildFlags) => {
    if (o.mode !== 'individual' && o.mode !== 'collective') throw new Error(`--mode: expected individual or collective, got "${o.mode}"`);
    const budget = o.budget === undefined ? undefined : Number(o.budget);
    if (budget !== undefined && !(Number.isInteger(budget) && budget >= 2)) throw new Error(`--budget: expected an integer ≥ 2, got "${o.budget}"`);
    const ds = buildCtrMovieLens100k(source);
    const plan = buildKnowledgeRequests(ds, { mode: o.mode, budget });
    const pricing = { inputPerMTok: Number(o.priceIn), outputPerMTok: Number(o.priceOut) };
    const est = estimatePlan(plan, pricing, Number(o.maxTokens));
    const line = `${o.mode}: ${est.calls} calls (${est.userCalls} user, ${est.itemCalls} item); ~${est.promptTokens} prompt tokens + ≤${est.completionTokens} completion tokens; est. cost US$${est.costUsd.toFixed(4)} at ${pricing.inputPerMTok}/${pricing.outputPerMTok} US$ per M tokens`;
    if (o.dryRun) {
      process.stdout.write(`dry run (nothing called): ${line}\n`);
      return;
    }
    if (!o.out) throw new Error('--out <file.rkv> is required (or use --dry-run)');
    const client = o.llm ? clientFromFlags(o.llm, o) : null;
    try {
      const src = client ? new LlmKnowledgeSource(client, Number(o.maxTokens)) : new OfflineKnowledgeSource();
      await buildKnowledge(ds, { mode: o.mode, budget, source: src, embedder: await embedderFromSpec(o.embedder, { baseURL: o.embedBaseUrl ?? o.baseUrl }), out: o.out, log: (l) => process.stderr.write(`${l}\n`) });
      process.stdout.write(`${line}\n`);
      if (client) {
        const t = client.ledger.total();
        process.stdout.write(`LLM: ${t.calls} calls (${t.cachedCalls} from cache), ${t.promptTokens} + ${t.completionTokens} tokens, US$${t.costUsd.toFixed(4)}\n`);
      }
      process.stdout.write(`wrote ${o.out}\n`);
    } finally {
      await client?.close();
    }
  });
}
