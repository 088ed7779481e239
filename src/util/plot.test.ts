import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, formatTick, lineChart, niceTicks, scatterChart } from './plot.ts';

/** Every opened tag is closed (or self-closed) in order: a cheap well-formedness check. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0;
}

describe('niceTicks', () => {
  it('uses 1/2/5 steps covering the range', () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    // range 0.28 / 4 = 0.07 → step 0.05 (f just under 7 rounds to 5).
    expect(niceTicks(0.13, 0.41)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]);
    expect(niceTicks(-3, 7)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
  });
  it('widens a degenerate range', () => {
    const t = niceTicks(5, 5);
    expect(t[0]).toBeLessThan(5);
    expect(t[t.length - 1]).toBeGreaterThan(5);
  });
});

describe('formatTick / escapeXml', () => {
  it('formats and escapes', () => {
    expect(formatTick(0.30000000000000004)).toBe('0.3');
    expect(formatTick(200000)).toBe('2.0e5');
    expect(escapeXml('a<b & "c">')).toBe('a&lt;b &amp; &quot;c&quot;&gt;');
  });
});

describe('lineChart', () => {
  it('maps points to the pixel positions worked out by hand', () => {
    // Default 640×400, margins l64 r16 t36 b48: x 0..10 → 64..624, y 0..1 → 352..36.
    const svg = lineChart([{ name: 'a', x: [0, 5, 10], y: [0, 0.5, 1] }], { title: 'T', xLabel: 'epoch', yLabel: 'loss' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('points="64,352 344,194 624,36"');
    expect(svg).toContain('>T</text>');
    expect(svg).toContain('>epoch</text>');
    expect(svg).toContain('>loss</text>');
    expect(svg.match(/class="xtick"/g)).toHaveLength(6);
    expect(svg.match(/class="ytick"/g)).toHaveLength(6);
  });
  it('draws one group per series with a legend entry each, and breaks lines at NaN', () => {
    const svg = lineChart([
      { name: 'train <loss>', x: [1, 2, 3, 4], y: [3, 2, NaN, 1] },
      { name: 'valid', x: [1, 2, 3, 4], y: [2.5, 2.2, 2.1, 2.0] },
    ]);
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/class="series"/g)).toHaveLength(2);
    expect(svg.match(/<polyline/g)).toHaveLength(3); // 2 segments + 1
    expect(svg).toContain('train &lt;loss&gt;');
    expect(svg.match(/<g class="legend">.*?<\/g>/)![0].match(/<rect [^>]*height="10"/g)).toHaveLength(2); // one swatch per series
  });
  it('supports log axes with power-of-ten ticks', () => {
    const svg = lineChart([{ name: 's', x: [1, 10, 100], y: [1, 0.1, 0.01] }], { logX: true, logY: true });
    expect(balanced(svg)).toBe(true);
    // x: 1..100 → 64..624, so 10 sits in the middle.
    expect(svg).toContain('points="64,36 344,194 624,352"');
  });
  it('rejects mismatched lengths', () => {
    expect(() => lineChart([{ name: 'bad', x: [1, 2], y: [1] }])).toThrow(/bad.*2 x values but 1 y/);
  });
});

describe('scatterChart', () => {
  it('draws error bars of the right length', () => {
    const svg = scatterChart([{ name: 'm', x: [0, 10], y: [0.5, 0.5], yErr: [0.5, 0] }]);
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/<circle/g)).toHaveLength(2);
    // y range 0..1 → 352..36; the first bar spans 0..1.
    expect(svg).toContain('class="errorbar" x1="64" y1="352" x2="64" y2="36"');
  });
});

describe('barChart', () => {
  it('draws one bar per value from the zero line', () => {
    const svg = barChart(
      [
        { label: 'hr@10', values: [0.5, 1] },
        { label: 'ndcg@10', values: [0.25, 0.75], errors: [0.05, 0.05] },
      ],
      ['pop', 'ease'],
      { title: 'models' },
    );
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/class="bar"/g)).toHaveLength(4);
    expect(svg.match(/class="errorbar"/g)).toHaveLength(2);
    // y 0..1 → 352..36: a bar of 1 has height 316, one of 0.5 has 158.
    expect(svg).toMatch(/class="bar"[^>]*height="316"/);
    expect(svg).toMatch(/class="bar"[^>]*height="158"/);
  });
  it('rejects groups with the wrong number of values', () => {
    expect(() => barChart([{ label: 'g', values: [1] }], ['a', 'b'])).toThrow(/2 series/);
  });
});
