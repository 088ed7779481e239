/**
 * The ANN path inside the service: a bundle trained with an index (ann-bundle.ts) answers
 * `/api/recommend` through it, with the same filters as the exact path (history excluded,
 * categories), and its answers agree with the same model's exact answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../data/synthetic.ts';
import { trainBundle } from './train.ts';
import { annPath } from './ann.ts';
import { startServer, type RunningServer } from './server.ts';

const dir = mkdtempSync(join(tmpdir(), 'reclab-ann-bundle-'));
const servers: RunningServer[] = [];

async function serve(models: string): Promise<string> {
  const s = await startServer({ models, db: `sqlite:${join(models, '..', `${models.split('/').pop()}.db`)}`, port: 0, host: '127.0.0.1', rateLimit: 0, engine: { cacheSize: 0 } });
  servers.push(s);
  return s.url;
}

beforeAll(async () => {
  const data = generateSynthetic({ users: 300, items: 1500, interactions: 12_000, seed: 5 });
  await trainBundle(data, { model: 'bpr', config: { epochs: 3, dim: 16 }, seed: 1, out: join(dir, 'exact'), ann: false });
  cpSync(join(dir, 'exact'), join(dir, 'ann'), { recursive: true });
  // the same model with an index: built because the catalogue passes minItems (lowered here)
  const { buildBundleAnn } = await import('./ann-bundle.ts');
  const { loadBundle } = await import('./bundle.ts');
  const served = await loadBundle(join(dir, 'ann'));
  expect(buildBundleAnn(join(dir, 'ann'), served.model, { minItems: 500, threads: 1 })).toBe(true);
  expect(buildBundleAnn(join(dir, 'ann'), served.model, { minItems: 5000 })).toBe(false);
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('ANN in the service', () => {
  it('answers through the bundle index like the exact path, history excluded', async () => {
    expect(existsSync(annPath(join(dir, 'ann')))).toBe(true);
    expect(existsSync(annPath(join(dir, 'exact')))).toBe(false);
    const [exact, ann] = [await serve(join(dir, 'exact')), await serve(join(dir, 'ann'))];
    let overlap = 0;
    const users = Array.from({ length: 30 }, (_, u) => String(u + 1)); // the generator's raw user ids
    for (const user of users) {
      const get = async (url: string) => {
        const r = await fetch(`${url}/api/recommend/${user}?n=10`);
        expect(r.status).toBe(200);
        return (await r.json()) as string[];
      };
      const [e, a] = [await get(exact), await get(ann)];
      expect(a.length).toBe(10);
      overlap += a.filter((x) => e.includes(x)).length / 10;
    }
    expect(overlap / users.length).toBeGreaterThanOrEqual(0.95);
  }, 120_000);
});
