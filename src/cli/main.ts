/**
 * The `reclab` command: parses arguments and calls the library. Each verb lives in its own
 * module under `commands/` and registers itself on the program; this file only lists them.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

/** A module that adds one verb (with its sub-verbs) to the program. */
export type CommandModule = (program: Command) => void;

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Every verb of the CLI, in help order. Add one line per verb module. */
async function loadCommands(): Promise<CommandModule[]> {
  const modules: CommandModule[] = [];
  // Each import is a verb module exporting `register`.
  for (const load of COMMANDS) modules.push((await load()).register);
  return modules;
}

const COMMANDS: (() => Promise<{ register: CommandModule }>)[] = [
  // verbs are added here, e.g. () => import('./commands/data.ts'),
  () => import('./commands/quickstart.ts'),
  () => import('./commands/data.ts'),
  () => import('./commands/law.ts'),
  () => import('./commands/train.ts'),
  () => import('./commands/serve.ts'),
  () => import('./commands/bench.ts'),
  () => import('./commands/eval.ts'),
  () => import('./commands/arena.ts'),
  () => import('./commands/profile.ts'),
  () => import('./commands/llmrec.ts'),
];

/** Runs the CLI on `argv` (process.argv shape). Exits non-zero with a one-line message on error. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('reclab')
    .description('Recommender-systems engine and lab')
    .version(version)
    .showHelpAfterError();
  for (const register of await loadCommands()) register(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.stderr.write(`reclab: ${(error as Error).message}\n`);
    if (process.env.RECLAB_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  }
}
