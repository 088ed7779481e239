import { describe, expect, it } from 'vitest';
import { tokenizeFile, tokenizeCsv } from '../../src/data/tokenize.ts';
import { scratch } from './fixtures.ts';

const fx = scratch('reclab-tok-');

async function rows(path: string, delimiter: string): Promise<string[][]> {
  const out: string[][] = [];
  await tokenizeFile(path, { delimiter }, (f) => {
    out.push(Array.from({ length: f.count }, (_, k) => f.text(k)));
  });
  return out;
}

describe('byte-level tokenizer', () => {
  it('handles lines across chunk boundaries, CRLF, a BOM, blank lines and no final newline', async () => {
    const lines: string[] = [];
    for (let k = 0; k < 60_000; k++) lines.push(`${k}::${'x'.repeat(k % 61)}::${k * 3}`); // ~2.4 MB: several 1 MB chunks
    const text = '\ufeff' + lines.join('\r\n') + '\r\n\r\n' + 'last::line::0';
    const path = fx.file('big.txt', text);
    const got = await rows(path, '::');
    const want = [...lines, 'last::line::0'].map((l) => l.split('::'));
    expect(got.length).toBe(want.length);
    let mismatches = 0;
    for (let k = 0; k < want.length; k++) if (got[k].join('\u0001') !== want[k].join('\u0001')) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('parses numbers and canonical integers from bytes', async () => {
    const path = fx.file('nums.tsv', '7\t007\t-3.5\t1e3\t4.\t\t12345678901234567\tx1\n');
    const seen: (number | boolean)[] = [];
    await tokenizeFile(path, { delimiter: '\t' }, (f) => {
      seen.push(f.canonicalInt(0), f.canonicalInt(1), f.number(1), f.number(2), f.number(3), f.number(4), Number.isNaN(f.number(5)), f.canonicalInt(6), f.number(6), Number.isNaN(f.number(7)), f.isEmpty(5));
    });
    expect(seen).toEqual([7, -1, 7, -3.5, 1000, 4, true, -1, 12345678901234568, true, true]);
  });

  it('whitespace delimiter splits on runs of spaces and tabs', async () => {
    const path = fx.file('ws.txt', '  1 \t 2   3\n\t\n4\t5\n');
    expect(await rows(path, 'whitespace')).toEqual([['1', '2', '3'], ['4', '5']]);
  });

  it('csv-parse path reports quoted fields with embedded separators and newlines', async () => {
    const path = fx.file('q.csv', 'a,"b, c","multi\nline"\nd,e,f\n');
    const out: [string[], number][] = [];
    await tokenizeCsv(path, { delimiter: ',' }, (f, line) => {
      out.push([Array.from({ length: f.count }, (_, k) => f.text(k)), line]);
    });
    expect(out).toEqual([[['a', 'b, c', 'multi\nline'], 2], [['d', 'e', 'f'], 3]]);
  });
});
