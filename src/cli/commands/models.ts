/**
 * `reclab models [name] [--json | --markdown]`: every registered model with its config keys —
 * type, default, range and meaning — read from the model's zod schema, so what is printed is
 * what `createModel` accepts. `--markdown` prints the reference section of docs/models.md (a test
 * keeps the two equal).
 */
import type { Command } from 'commander';
import { listModels, modelEntry, type ModelEntry } from '../../models/registry.ts';
import { schemaKeys, type SchemaKey } from '../../util/schema.ts';

/** One model as `reclab models --json` prints it. */
export interface ModelListing {
  name: string;
  description: string;
  sequential: boolean;
  config: SchemaKey[];
}

/** The listing of one registry entry (no keys when it has no schema). */
export function modelListing(entry: ModelEntry): ModelListing {
  return { name: entry.name, description: entry.description, sequential: entry.sequential, config: entry.configSchema ? schemaKeys(entry.configSchema) : [] };
}

/** A default as written in YAML configs. */
function show(value: unknown): string {
  return value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value);
}

/** Plain-text listing: a header line per model, then one aligned line per key. */
export function modelsText(models: ModelListing[]): string {
  const out: string[] = [];
  for (const m of models) {
    out.push(`${m.name}${m.sequential ? ' (sequential)' : ''} — ${m.description}`);
    const rows = m.config.map((k) => [k.key, `${k.type}${k.range ? ` ${k.range}` : ''}`, `default ${show(k.default)}`, k.description]);
    const width = [0, 1, 2].map((c) => Math.max(0, ...rows.map((r) => r[c].length)));
    for (const r of rows) out.push(`  ${r[0].padEnd(width[0])}  ${r[1].padEnd(width[1])}  ${r[2].padEnd(width[2])}  ${r[3]}`.trimEnd());
    out.push('');
  }
  return out.join('\n');
}

/** Markdown reference: one table per model (the generated part of docs/models.md). */
export function modelsMarkdown(models: ModelListing[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const out: string[] = [];
  for (const m of models) {
    out.push(`#### \`${m.name}\`${m.sequential ? ' (sequential)' : ''}`, '', m.description, '');
    out.push('| key | type | default | meaning |', '|---|---|---|---|');
    for (const k of m.config) out.push(`| \`${k.key}\` | ${cell(`${k.type}${k.range ? ` ${k.range}` : ''}`)} | ${cell(show(k.default))} | ${cell(k.description)} |`);
    out.push('');
  }
  return out.join('\n');
}

/** Registers `reclab models`. */
export function register(program: Command): void {
  program
    .command('models')
    .argument('[name]', 'one model (default: all)')
    .description('list the models with their config keys, types, defaults and ranges (from the config schemas)')
    .option('--json', 'print JSON')
    .option('--markdown', 'print the Markdown reference of docs/models.md')
    .action((name: string | undefined, opts: { json?: boolean; markdown?: boolean }) => {
      const models = (name === undefined ? listModels() : [modelEntry(name)]).map(modelListing);
      if (opts.json) process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
      else if (opts.markdown) process.stdout.write(modelsMarkdown(models));
      else process.stdout.write(modelsText(models));
    });
}
