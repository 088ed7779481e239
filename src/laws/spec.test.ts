import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSweepFile } from './spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'reclab-law-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const GOOD = `dataset: { path: data.txt }
model: sasrec
config: { epochs: 3 }
grid: { layers: [1, 2], hidden: [16] }
out: out.jsonl
`;

describe('loadSweepFile', () => {
  it('fills defaults and applies --set overrides', () => {
    const spec = loadSweepFile(file('a.yaml', GOOD), ['config.epochs=5', 'grid.hidden=[8, 32]', 'protocol=full']);
    expect(spec.config).toEqual({ epochs: 5 });
    expect(spec.grid).toEqual({ layers: [1, 2], hidden: [8, 32], fractions: [1], seeds: [0] });
    expect(spec.protocol).toBe('full');
    expect(spec.metrics).toEqual(['ndcg@10', 'hr@10']);
    expect(spec.dataset.format).toBe('auto');
  });

  it('names the file and key of a bad value, and unknown keys', () => {
    expect(() => loadSweepFile(file('b.yaml', GOOD.replace('[1, 2]', '[1, -2]')))).toThrow(/b\.yaml: key "grid\.layers\.1"/);
    expect(() => loadSweepFile(file('c.yaml', `${GOOD}epochz: 3\n`))).toThrow(/c\.yaml: key "epochz": unknown key; known keys: name, /);
    expect(() => loadSweepFile(file('d.yaml', 'model: [unclosed\n'))).toThrow(/d\.yaml:\d+: invalid YAML/);
    expect(() => loadSweepFile(file('e.yaml', GOOD), ['novalue'])).toThrow(/--set novalue: expected key=value/);
  });
});
