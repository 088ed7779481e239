import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLawPoints } from './records.ts';

const dir = mkdtempSync(join(tmpdir(), 'reclab-law-records-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('readLawPoints', () => {
  it('reads JSONL with metrics nested, dataset@fraction groups and D', () => {
    const path = file('a.jsonl', [
      JSON.stringify({ layers: 2, hidden: 32, dataset: 'beauty', fraction: 0.5, D: 0.3, metrics: { 'ndcg@10': 0.21, 'hr@10': 0.33 } }),
      '',
      JSON.stringify({ N: 4, h: 64, dataset: 'beauty', fraction: 1, metrics: { 'ndcg@10': 0.25 } }),
    ].join('\n'));
    expect(readLawPoints(path, 'ndcg@10')).toEqual([
      { layers: 2, hidden: 32, y: 0.21, group: 'beauty@0.5', D: 0.3 },
      { layers: 4, hidden: 64, y: 0.25, group: 'beauty' },
    ]);
  });

  it('reads CSV with a header and top-level metric columns', () => {
    const path = file('b.csv', 'layers,hidden,hr@10,group\n1,16,0.4,x\n2,16,0.45,x\n');
    expect(readLawPoints(path, 'hr@10')).toEqual([
      { layers: 1, hidden: 16, y: 0.4, group: 'x' },
      { layers: 2, hidden: 16, y: 0.45, group: 'x' },
    ]);
  });

  it('reads a JSON array', () => {
    const path = file('c.json', JSON.stringify([{ layers: 1, hidden_size: 8, 'ndcg@10': 0.1 }]));
    expect(readLawPoints(path, 'ndcg@10')).toEqual([{ layers: 1, hidden: 8, y: 0.1 }]);
  });

  it('names file, line and field of bad records', () => {
    const csv = file('bad.csv', 'layers,hidden,ndcg@10\n1,16,0.4\n0,16,0.4\n');
    expect(() => readLawPoints(csv, 'ndcg@10')).toThrow(/bad\.csv:3: field "layers": expected a positive number/);
    const jsonl = file('bad.jsonl', `${JSON.stringify({ layers: 1, hidden: 8, metrics: {} })}\n`);
    expect(() => readLawPoints(jsonl, 'ndcg@10')).toThrow(/bad\.jsonl:1: field "ndcg@10": missing metric/);
    const broken = file('broken.jsonl', '{"layers": 1,\n');
    expect(() => readLawPoints(broken, 'ndcg@10')).toThrow(/broken\.jsonl:1: invalid JSON/);
    const missing = file('m.csv', 'hidden,ndcg@10\n8,0.1\n');
    expect(() => readLawPoints(missing, 'ndcg@10')).toThrow(/m\.csv:2: field "layers": missing/);
    expect(() => readLawPoints(file('x.txt', ''), 'ndcg@10')).toThrow(/unknown results format/);
  });
});
