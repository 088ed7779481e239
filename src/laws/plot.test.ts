import { describe, expect, it } from 'vitest';
import { fitLaw, leaveOneConfigOut, type LawPoint } from './fit.ts';
import { lawValue } from './law.ts';
import { lawCurvesSvg, locoParitySvg } from './plot.ts';

const TRUTH = { w1: 1, w2: 4, w3: -0.35, w4: -0.18, w5: -0.1, D: 1, b: 2.5 };
const points: LawPoint[] = [];
for (const layers of [2, 4, 8]) for (const hidden of [16, 32, 64, 128]) points.push({ layers, hidden, y: lawValue(TRUTH, layers, hidden) });

describe('law plots', () => {
  it('curves: one line per depth without dots, one dot per observation, legend lists depths only', () => {
    const svg = lawCurvesSvg(points, fitLaw(points), { metric: 'ndcg@10' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg.match(/<circle /g)).toHaveLength(points.length);
    expect(svg).toMatch(/>N=8<\/text>/);
    expect(svg).not.toMatch(/observed<\/text>/);
  });

  it('parity: the diagonal and one dot per held-out configuration', () => {
    const svg = locoParitySvg(leaveOneConfigOut(points), { metric: 'ndcg@10' });
    expect(svg.match(/<polyline /g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(points.length);
  });
});
