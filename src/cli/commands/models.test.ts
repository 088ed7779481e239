import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { listModels } from '../../models/registry.ts';
import { modelListing, modelsMarkdown, register } from './models.ts';

/** Runs `reclab models …args` and returns what it printed. */
async function run(...args: string[]): Promise<string> {
  const program = new Command();
  register(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'reclab', 'models', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

describe('reclab models', () => {
  it('lists every registered model with its keys and defaults from the schema', async () => {
    const text = await run();
    for (const entry of listModels()) expect(text).toContain(`${entry.name}`);
    expect(text).toMatch(/^bpr — /m);
    expect(text).toMatch(/^ {2}negatives +uniform \| popularity +default uniform/m);
    expect(text).toMatch(/^ {2}dim +integer > 0 +default 64 +factor dimension d$/m);
    expect(text).toMatch(/^sasrec \(sequential\) — /m);
  });

  it('--json gives every key of one model with its default', async () => {
    const [ials] = JSON.parse(await run('ials', '--json')) as ReturnType<typeof modelListing>[];
    expect(ials.name).toBe('ials');
    expect(Object.fromEntries(ials.config.map((k) => [k.key, k.default]))).toEqual(listModels().find((e) => e.name === 'ials')!.configSchema!.parse({}));
    expect(ials.config.find((k) => k.key === 'solver')!.type).toBe('cg | cholesky');
  });

  it('an unknown model is an error naming the known ones', async () => {
    await expect(run('nope')).rejects.toThrow(/unknown model "nope"; known models: pop/);
  });

  it('docs/models.md carries the current --markdown reference', () => {
    const doc = readFileSync(new URL('../../../docs/models.md', import.meta.url), 'utf8');
    const start = '<!-- generated: reclab models --markdown -->\n';
    const section = doc.slice(doc.indexOf(start) + start.length, doc.indexOf('<!-- end generated -->'));
    expect(section).toBe(modelsMarkdown(listModels().map(modelListing)));
  });
});
