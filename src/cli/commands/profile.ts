/**
 * `reclab profile`: LLM-written user profiles from history (titles, genres, ratings), one JSON
 * line per user — the persona of the Arena judge and the context of profile-augmented ranking.
 *
 *   reclab profile --data ml-1m.txt --format sasrec --items movies.dat --item-map sas_to_original_items.txt \
 *     --llm openai:llama3.1 --base-url http://localhost:11434/v1 --users 50 --out profiles.jsonl
 */
import type { Command } from 'commander';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import '../../llmrec/scripts.ts';
import { generateProfile } from '../../llmrec/profile.ts';
import { userHistory } from '../../llmrec/history.ts';
import { clientFromFlags, loadLlmData, sampleUsers, type DataFlags, type LlmFlags } from '../../llmrec/setup.ts';
import { progress } from '../../util/progress.ts';
import { dataOptions, llmOptions } from './arena.ts';

interface ProfileFlags extends DataFlags, LlmFlags {
  llm: string;
  users: string;
  user: string[];
  history: string;
  seed: string;
  words: string;
  out: string;
  progress: boolean;
}

/** Registers `reclab profile`. */
export function register(program: Command): void {
  const cmd = program.command('profile').description('write LLM user profiles from interaction histories (JSONL)');
  dataOptions(cmd)
    .requiredOption('--llm <provider>', 'openai:<model>[@url], gguf:<file>, replay:<file.jsonl> or scripted:genre-profiler')
    .option('--users <n>', 'users sampled (seeded) when no --user is given', '20')
    .option('--user <raw id>', 'profile this user (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--history <n>', 'last history events shown', '20')
    .option('--words <n>', 'word budget of a profile', '80')
    .option('--seed <n>', 'seed of user sampling', '42')
    .requiredOption('--out <file.jsonl>', 'output file')
    .option('--no-progress', 'no progress bars');
  llmOptions(cmd).action(async (o: ProfileFlags) => {
    const client = clientFromFlags(o.llm, o);
    try {
      const data = await loadLlmData(o, o.progress);
      const { dataset, catalogue } = data;
      let users: Int32Array;
      if (o.user.length) {
        users = Int32Array.from(o.user.map((raw) => {
          const u = dataset.userIds.get(raw);
          if (u === undefined) throw new Error(`--user ${raw}: no such user in ${dataset.name}`);
          return u;
        }));
      } else users = sampleUsers(data.split.test, Number(o.users), Number(o.seed));
      const bar = progress('profiles', users.length, { enabled: o.progress ? undefined : false, unit: 'users' });
      const profiles = await Promise.all(
        Array.from(users, async (u) => {
          const p = await generateProfile(client, u, dataset.userIds.toRaw(u), userHistory(data.history, u, catalogue, Number(o.history)), { maxWords: Number(o.words) });
          bar.tick();
          return p;
        }),
      );
      bar.stop();
      await mkdir(dirname(o.out), { recursive: true });
      await writeFile(`${o.out}.tmp`, profiles.map((p) => JSON.stringify({ ...p, provider: client.provider.id, dataset: dataset.name, fingerprint: dataset.fingerprint })).join('\n') + '\n');
      await rename(`${o.out}.tmp`, o.out);
      const t = client.ledger.total();
      const failed = profiles.filter((p) => p.error).length;
      process.stdout.write(`${profiles.length} profiles → ${o.out} (${failed} fell back to top genres); ${t.calls} calls (${t.cachedCalls} cached), ${t.promptTokens}+${t.completionTokens} tokens, $${t.costUsd.toFixed(4)}, p50 ${t.latencyMs.p50.toFixed(0)} ms\n`);
    } finally {
      await client.close();
    }
  });
}
