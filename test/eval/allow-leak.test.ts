/**
 * `reclab eval --model <bundle from reclab train>` (issue 17): the bundle was fitted on every
 * event, the test events included, so eval refuses it and says why; `--allow-leak` evaluates it
 * anyway and says so beside the figures.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const work = mkdtempSync(join(tmpdir(), 'reclab-leak-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function reclab(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'reclab.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, RECLAB_CACHE_DIR: join(work, 'cache') }, timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('reclab eval on a bundle fitted on the test events', { timeout: 300_000 }, () => {
  const data = 'synthetic:users=200,items=300,interactions=6000,seed=3';
  const bundle = join(work, 'ease');

  it('refuses without --allow-leak, naming how many held-out events the bundle saw', () => {
    const trained = reclab(['train', '--data', data, '--model', 'ease', '--out', bundle]);
    expect(trained.status).toBe(0);
    const r = reclab(['eval', '--data', data, '--model', bundle, '--no-progress']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    // Leave-one-out: one test event per user, all 200 of them in the bundle's history.
    expect(r.stderr).toMatch(/was fitted on 200 of the 200 test events of this split/);
    expect(r.stderr).toMatch(/--allow-leak/);
  });

  it('evaluates with --allow-leak and says so in the notes', () => {
    const r = reclab(['eval', '--data', data, '--model', bundle, '--no-progress', '--allow-leak', '--metrics', 'hr@10']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/fitted on 200 of 200 test events \(--allow-leak\)/);
    expect(r.stdout).toMatch(/^hr@10 /m);
  });
});
