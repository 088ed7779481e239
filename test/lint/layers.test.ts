/**
 * The layering rule bites (issue 17, must-show 3): ESLint with the repository's own config — what
 * `npm run lint` runs — rejects a fixture with upward imports when it sits in src/models/, accepts
 * the same imports from src/cli/, and finds no violation in the tree.
 */
import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { LAYERS, violation } from '../../eslint/layers.js';

const root = new URL('../../', import.meta.url).pathname;
const fixture = readFileSync(new URL('./fixtures/models-imports-eval.txt', import.meta.url), 'utf8');
const eslint = new ESLint({ cwd: root });
const layerMessages = async (code: string, filePath: string): Promise<string[]> =>
  (await eslint.lintText(code, { filePath })).flatMap((r) => r.messages.filter((m) => m.ruleId === 'reclab/layers').map((m) => m.message));

describe('lint: the layering rule', { timeout: 180_000 }, () => {
  it('fails on an upward import in a fixture, naming both folders', async () => {
    const messages = await layerMessages(fixture, 'src/models/upward.ts');
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatch(/^src\/models may not import src\/eval: eval is above models in the layers .* — "\.\.\/eval\/evaluate\.ts"$/);
    expect(messages[1]).toMatch(/^src\/models may not import src\/experiment/);
    // the same lines one layer up are fine, and tests are outside the rule
    expect(await layerMessages(fixture.replaceAll('../', '../../'), 'src/cli/commands/fine.ts')).toEqual([]);
    expect(await layerMessages(fixture, 'src/models/upward.test.ts')).toEqual([]);
    // a module may not reach into the test helpers, nor a folder into the public API
    expect(await layerMessages("import { SHARED } from '../../test/shared.ts';\n", 'src/llm/x.ts')).toEqual(['src/llm may not import the test helpers (../../test/shared.ts): only tests may']);
    expect((await layerMessages("export * from '../index.ts';\n", 'src/serve/x.ts'))[0]).toMatch(/src\/serve may not import src\/index\.ts/);
  });

  it('passes on the tree', async () => {
    const lint = new ESLint({ cwd: root, ruleFilter: ({ ruleId }) => ruleId === 'reclab/layers' });
    const results = await lint.lintFiles(['src']);
    const found = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line}: ${m.message}`));
    expect(found).toEqual([]);
    expect(results.length).toBeGreaterThan(100);
  });

  it('orders the folders as the architecture does', () => {
    expect(LAYERS.indexOf('models')).toBeLessThan(LAYERS.indexOf('eval'));
    expect(LAYERS.indexOf('eval')).toBeLessThan(LAYERS.indexOf('experiment'));
    expect(violation('experiment', 'eval')).toBeNull();
    expect(violation('eval', 'experiment')).toMatch(/may not import/);
    expect(violation('newfolder', 'data')).toMatch(/not in the layer list/);
  });
});
