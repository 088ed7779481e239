/**
 * `reclab ui`: the web dashboard over the results in this folder (`runs/` and `docs/results/`),
 * with the human Arena's votes kept in `runs/ui-votes.db` (see docs/ui.md).
 */
import type { Command } from 'commander';
import type { DataSpec } from '../../data/load.ts';
import { startUi } from '../../serve/ui/server.ts';
import { collect } from './arena.ts';

/** `name=source[:format]` of --data, checked. */
export function dataSpecOf(value: string): [string, DataSpec] {
  const m = /^([A-Za-z0-9._-]+)=(.+?)(?::([a-z0-9-]+))?$/.exec(value);
  if (!m) throw new Error(`--data: expected name=source[:format] (e.g. ml1m=../shared/datasets/ml-1m:ml-1m), got "${value}"`);
  return [m[1], { source: m[2], format: m[3] ?? 'auto', name: m[1] }];
}

/** Registers `reclab ui`. */
export function register(program: Command): void {
  program
    .command('ui')
    .description('web dashboard: runs and traces, data, laws, the Arena with human voting (http://127.0.0.1:PORT/ui/)')
    .option('--port <n>', 'port', '8088')
    .option('--host <addr>', 'interface to bind', '127.0.0.1')
    .option('--runs <dir>', 'folder of results, traces, Arena reports and law fits (repeatable; default runs and docs/results)', collect, [])
    .option('--data <name=source[:format]>', 'a dataset the Data page describes (repeatable; default a synthetic one)', collect, [])
    .option('--db <url>', 'where votes are kept: sqlite:<path> or postgres://… (default sqlite:<first runs folder>/ui-votes.db)')
    .option('--api-key <key>', 'require this X-API-Key on the data routes (default: $RECLAB_API_KEY; none = open)')
    .action(async (o: { port: string; host: string; runs: string[]; data: string[]; db?: string; apiKey?: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected an integer 0–65535, got "${o.port}"`);
      const datasets = Object.fromEntries(o.data.length ? o.data.map(dataSpecOf) : [['synthetic', { source: 'synthetic', format: 'synthetic', name: 'synthetic' }]]);
      const ui = await startUi({ port, host: o.host, roots: o.runs.length ? o.runs : undefined, datasets, db: o.db, apiKey: o.apiKey ?? process.env.RECLAB_API_KEY });
      process.stderr.write(`reclab ui: ${ui.url}${o.apiKey ?? process.env.RECLAB_API_KEY ? ' (data routes need X-API-Key)' : ''}\n`);
      const stop = (): void => void ui.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
