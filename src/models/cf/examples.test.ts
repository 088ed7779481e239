import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadExperiment } from '../../eval/config.ts';
import { createModel, listModels, modelEntry } from '../registry.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'models');
const CF = ['pop', 'itemknn', 'userknn', 'ease', 'bpr', 'ials', 'directau', 'lightgcn', 'transition'];

describe('model config schemas', () => {
  for (const entry of listModels()) {
    it(`${entry.name}: has a strict zod schema whose defaults are the model's defaults; bad keys and values are named`, () => {
      const schema = entry.configSchema!;
      expect(schema).toBeDefined();
      expect(createModel(entry.name).config).toEqual(schema.parse({}));
      expect(() => createModel(entry.name, { noSuchKey: 1 })).toThrow(new RegExp(`^${entry.name} config: key "noSuchKey": unknown key; known keys: `));
      const numeric = Object.entries(schema.parse({}) as Record<string, unknown>).find(([, v]) => typeof v === 'number')![0];
      expect(() => createModel(entry.name, { [numeric]: 'ten' })).toThrow(new RegExp(`^${entry.name} config: key "${numeric}": .*expected number`));
    });
  }
});

describe('examples/models/<name>.yaml', () => {
  it('exists for every CF model', () => {
    const files = readdirSync(dir);
    for (const name of CF) expect(files).toContain(`${name}.yaml`);
  });

  for (const name of CF) {
    it(`${name}.yaml is a valid experiment that lists exactly the defaults of the model's schema`, () => {
      const config = loadExperiment(join(dir, `${name}.yaml`));
      expect(config.models[0].name).toBe(name);
      const schema = modelEntry(name).configSchema!;
      const given = config.models[0].config;
      // Valid under the schema (strict: no unknown keys), every key listed, every value the default.
      expect(schema.safeParse(given).success).toBe(true);
      expect(Object.keys(given).sort()).toEqual(Object.keys(schema.shape).sort());
      expect(given).toEqual(schema.parse({}));
    });
  }
});
