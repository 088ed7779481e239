import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadExperiment } from '../../eval/config.ts';
import { createModel, modelEntry } from '../registry.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'models');
const CF = ['pop', 'itemknn', 'userknn', 'ease', 'bpr', 'ials', 'directau', 'lightgcn', 'transition'];

describe('examples/models/<name>.yaml', () => {
  it('exists for every CF model', () => {
    const files = readdirSync(dir);
    for (const name of CF) expect(files).toContain(`${name}.yaml`);
  });

  for (const name of CF) {
    it(`${name}.yaml is a valid experiment that lists exactly the model's defaults`, () => {
      const config = loadExperiment(join(dir, `${name}.yaml`));
      expect(config.models[0].name).toBe(name);
      modelEntry(name);
      expect(createModel(name, config.models[0].config).config).toEqual(createModel(name).config);
      expect(Object.keys(config.models[0].config).sort()).toEqual(Object.keys(createModel(name).config).sort());
    });
  }
});
