/**
 * `reclab chat`: a terminal conversation with a recommender LLM whose every recommendation is
 * grounded to a catalogue item (hallucinated titles are dropped from the answer and counted).
 * The session is kept in a JSON file, so a conversation can be continued later.
 *
 *   reclab chat --data ../shared/datasets/ml-100k/u.data --format ml-100k --llm openai:qwen2.5-7b-instruct --user 196
 *   reclab chat ... --message "a comedy for tonight?" --session runs/chat-196.json   # one turn, no prompt
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { ChatRecommender, type ChatAnswer, type ChatSession } from '../../agents/chat.ts';
import '../../agents/scripts.ts';
import { clientFromFlags, loadLlmData, type DataFlags, type LlmFlags } from '../../llmrec/setup.ts';
import { dataOptions, llmOptions } from './arena.ts';

interface ChatFlags extends DataFlags, LlmFlags {
  llm: string;
  user?: string;
  session?: string;
  message?: string;
}

/** Loads a session file, checking its shape. */
async function loadSession(path: string): Promise<ChatSession> {
  let s: ChatSession;
  try {
    s = JSON.parse(await readFile(path, 'utf8')) as ChatSession;
  } catch (e) {
    throw new Error(`${path}: not a chat session (${(e as Error).message})`);
  }
  if (typeof s.id !== 'string' || !Array.isArray(s.turns) || typeof s.hallucinations !== 'number') throw new Error(`${path}: a chat session needs "id", "turns" and "hallucinations"`);
  return s;
}

/** Registers `reclab chat`. */
export function register(program: Command): void {
  const cmd = program.command('chat').description('conversational recommendation in the terminal; every recommended title is grounded to a catalogue item');
  dataOptions(cmd)
    .requiredOption('--llm <provider>', 'openai:<model>[@url], gguf:<file>, replay:<file.jsonl> or scripted:<name>')
    .option('--user <id>', 'raw user id of the data: their history informs the answers')
    .option('--session <file.json>', 'session file: continued when it exists, saved after every turn')
    .option('--message <text>', 'answer this one message and exit (no interactive prompt)');
  llmOptions(cmd).action(async (o: ChatFlags) => {
    const client = clientFromFlags(o.llm, o);
    try {
      const data = await loadLlmData(o, false);
      const chat = new ChatRecommender({ client, dataset: data.dataset, catalogue: data.catalogue, history: data.history });
      const session = o.session && existsSync(o.session) ? await loadSession(o.session) : chat.newSession(`chat-${Date.now()}`, o.user);
      const save = async (): Promise<void> => {
        if (!o.session) return;
        await mkdir(dirname(o.session), { recursive: true });
        await writeFile(o.session, `${JSON.stringify(session, null, 2)}\n`);
      };
      const show = (a: ChatAnswer): void => {
        process.stdout.write(`${a.reply}\n`);
        for (const [i, it] of a.items.entries()) process.stdout.write(`  ${i + 1}. ${it.title} [item ${it.item_id}${it.method === 'exact' ? '' : `, from "${it.mention}"`}]\n`);
        if (a.dropped.length) process.stdout.write(`  (${a.dropped.length} title(s) not in the catalogue dropped: ${a.dropped.map((d) => `"${d}"`).join(', ')})\n`);
      };
      if (o.message !== undefined) {
        show(await chat.turn(session, o.message));
        await save();
      } else {
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        process.stdout.write(`chatting with ${client.provider.id} over ${data.catalogue.n} items of ${data.dataset.name}; an empty line ends\n`);
        try {
          for (;;) {
            const text = (await rl.question('you> ')).trim();
            if (!text) break;
            show(await chat.turn(session, text));
            await save();
          }
        } finally {
          rl.close();
        }
      }
      process.stdout.write(`session ${session.id}: ${session.turns.length / 2} turn(s), ${session.hallucinations} hallucinated title(s) dropped${o.session ? `, saved in ${o.session}` : ''}\n`);
    } finally {
      await client.close();
    }
  });
}
