/**
 * The `reclab` command: parses arguments and calls the library. Each verb lives in its own
 * module under `commands/` and registers itself on the program; this file only lists them.
 */
import { describeKernelSetup } from '../kernels/runtime.ts';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

/** A module that adds one verb (with its sub-verbs) to the program. */
export type CommandModule = (program: Command) => void;

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Every verb of the CLI, in help order, keyed by the verb's name. Only the verb being run is
 * imported (model, server and LLM modules are heavy); help and unknown verbs load them all.
 */
const COMMANDS: Record<string, () => Promise<{ register: CommandModule }>> = {
  quickstart: () => import('./commands/quickstart.ts'),
  data: () => import('./commands/data.ts'),
  train: () => import('./commands/train.ts'),
  eval: () => import('./commands/eval.ts'),
  run: () => import('./commands/run.ts'),
  bench: () => import('./commands/bench.ts'),
  serve: () => import('./commands/serve.ts'),
  ui: () => import('./commands/ui.ts'),
  law: () => import('./commands/law.ts'),
  profile: () => import('./commands/profile.ts'),
  llmrec: () => import('./commands/llmrec.ts'),
  arena: () => import('./commands/arena.ts'),
  models: () => import('./commands/models.ts'),
  knowledge: () => import('./commands/knowledge.ts'),
  sim: () => import('./commands/sim.ts'),
  worker: () => import('./commands/worker.ts'),
  submit: () => import('./commands/submit.ts'),
  jobs: () => import('./commands/jobs.ts'),
  agent: () => import('./commands/agent.ts'),
  chat: () => import('./commands/chat.ts'),
  ids: () => import('./commands/ids.ts'),
};

/** The verb modules needed to run `argv`: just the named verb when it is known, else all (for help). */
async function loadCommands(argv: string[]): Promise<CommandModule[]> {
  const verb = argv[2];
  const names = verb !== undefined && Object.hasOwn(COMMANDS, verb) ? [verb] : Object.keys(COMMANDS);
  return Promise.all(names.map(async (name) => (await COMMANDS[name]()).register));
}

/** Runs the CLI on `argv` (process.argv shape). Exits non-zero with a one-line message on error. */
export async function main(argv: string[]): Promise<void> {
  // Output piped into `head` closes early: stop quietly instead of crashing with EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const program = new Command();
  program
    .name('reclab')
    .description('Recommender-systems engine and lab')
    .version(version)
    .option('--verbose', 'print start-up decisions (kernel build, FMA, threads, V8 flags) to stderr')
    .showHelpAfterError();
  // The kernel core decides FMA, threads and V8 flags once, at start-up; --verbose says what it chose.
  program.hook('preAction', (cmd) => {
    if (cmd.opts<{ verbose?: boolean }>().verbose) process.stderr.write(`${describeKernelSetup()}\n`);
  });
  for (const register of await loadCommands(argv)) register(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.stderr.write(`reclab: ${(error as Error).message}\n`);
    if (process.env.RECLAB_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  }
}
