import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExperimentConfig } from '../eval/config.ts';
import { chooseValidMetric, resolveSource } from './setup.ts';

describe('experiment setup', () => {
  it('selects on validMetric, else the first rank metric listed; never on a catalogue metric', () => {
    const cfg = (metrics: string[], validMetric?: string) => ({ name: 'x', metrics, validMetric }) as unknown as ExperimentConfig;
    expect(chooseValidMetric(cfg(['coverage@10', 'ndcg@10', 'hr@10']))).toBe('ndcg@10');
    expect(chooseValidMetric(cfg(['hr@10'], 'ndcg@20'))).toBe('ndcg@20');
    expect(() => chooseValidMetric(cfg(['coverage@10']))).toThrow(/x: set validMetric .*none of the metrics is one/);
    expect(() => chooseValidMetric(cfg(['hr@10'], 'coverage@10'))).toThrow(/must be a rank metric/);
  });

  it('reads a relative data path from the working directory, else from the config folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reclab-setup-'));
    try {
      writeFileSync(join(dir, 'only-here.txt'), '1 1\n');
      expect(resolveSource('only-here.txt', dir)).toBe(join(dir, 'only-here.txt'));
      expect(resolveSource('package.json', dir)).toBe(resolve('package.json'));
      expect(resolveSource('ml-1m')).toBe('ml-1m'); // a registry name passes through
      expect(resolveSource('synthetic:users=10')).toBe('synthetic:users=10');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
