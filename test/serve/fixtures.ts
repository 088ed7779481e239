/**
 * Test fixtures for the service: a tiny first-order Markov model (a real SequentialRecommender:
 * the score of item j after a sequence ending in i is the number of training transitions i → j),
 * registered under `test-markov`, and a small bundle built from hand-written sequences so the
 * expected recommendations can be worked out by hand.
 */
import { mkdtempSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { IdMap, type Interactions } from '../../src/data/types.ts';
import { fromSequences } from '../../src/data/interactions.ts';
import type { FitOptions, FitReport, SequentialRecommender } from '../../src/models/recommender.ts';
import { listModels, registerModel } from '../../src/models/registry.ts';
import { readCheckpoint, writeCheckpoint } from '../../src/models/checkpoint.ts';
import { saveBundle } from '../../src/serve/bundle.ts';
import { Pop } from '../../src/models/pop.ts';
import { Rpc, type RpcMessage } from '../../src/serve/cluster-rpc.ts';

/** Transition-count model: P(next = j | last = i) ∝ count(i → j). */
export class Markov implements SequentialRecommender {
  readonly name = 'test-markov';
  readonly config = {};
  nItems = 0;
  counts: Float32Array = new Float32Array(0);

  async fit(train: Interactions, _options: FitOptions): Promise<FitReport> {
    const n = train.nItems;
    this.nItems = n;
    this.counts = new Float32Array(n * n);
    for (let u = 0; u < train.nUsers; u++) {
      for (let p = train.offsets[u] + 1; p < train.offsets[u + 1]; p++) this.counts[train.items[p - 1] * n + train.items[p]]++;
    }
    return { epochs: 0, seconds: 0, history: [] };
  }

  scoreSequence(sequence: Int32Array, out: Float32Array): void {
    if (sequence.length === 0) out.fill(0, 0, this.nItems);
    else out.set(this.counts.subarray(sequence[sequence.length - 1] * this.nItems, (sequence[sequence.length - 1] + 1) * this.nItems));
  }

  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    users.forEach((u, r) => this.scoreSequence(history.items.subarray(history.offsets[u], history.offsets[u + 1]), out.subarray(r * this.nItems)));
  }

  async save(dir: string): Promise<void> {
    await writeCheckpoint(dir, { name: this.name, config: {}, nItems: this.nItems }, { counts: { data: this.counts, shape: [this.nItems, this.nItems] } });
  }

  static async load(dir: string): Promise<Markov> {
    const { meta, tensors } = await readCheckpoint(dir);
    const m = new Markov();
    m.nItems = meta.nItems;
    m.counts = tensors.counts.data as Float32Array;
    return m;
  }
}

/** Registers `test-markov` once per process. */
export function registerMarkov(): void {
  if (listModels().some((e) => e.name === 'test-markov')) return;
  registerModel({ name: 'test-markov', description: 'test fixture', sequential: true, create: () => new Markov(), load: (dir) => Markov.load(dir) });
}

/** Raw item ids of the fixture catalogue. */
export const ITEMS = ['a', 'b', 'c', 'd', 'e', 'f'];

/**
 * Training sequences (raw ids). Transitions by hand:
 *   a→b ×3, b→c ×2, c→d ×2, c→e ×1, d→e ×1, e→f ×1, b→a ×1
 * Popularity: a 4, b 4, c 3, d 2, e 2, f 1.
 */
export const SEQUENCES: Record<string, string[]> = {
  u1: ['a', 'b', 'c', 'd'],
  u2: ['a', 'b', 'c', 'e', 'f'],
  u3: ['a', 'b', 'a'],
  u4: ['c', 'd', 'e'],
};

/** The fixture dataset's maps and history. */
export function fixtureData(): { userIds: IdMap; itemIds: IdMap; history: Interactions } {
  const itemIds = IdMap.fromRaw(ITEMS);
  const userIds = IdMap.fromRaw(Object.keys(SEQUENCES));
  const history = fromSequences(Object.values(SEQUENCES).map((s) => s.map((raw) => itemIds.get(raw)!)), ITEMS.length);
  return { userIds, itemIds, history };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'reclab-serve-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Trains `kind` on the fixture data and writes a servable bundle into `dir`. */
export async function writeFixtureBundle(dir: string, kind: 'markov' | 'pop' = 'markov'): Promise<void> {
  registerMarkov();
  const { userIds, itemIds, history } = fixtureData();
  const model = kind === 'markov' ? new Markov() : new Pop();
  await model.fit(history, { seed: 1 });
  await model.save(dir);
  const categories = ITEMS.map((id) => (['a', 'c', 'e'].includes(id) ? ['odd'] : ['even']));
  await saveBundle(dir, { name: 'fixture', fingerprint: 'fixture', userIds, itemIds, history, itemCategories: categories });
}

/**
 * A popularity model over a wide catalogue (`nItems` items, ids `w0…`), for tests that need long
 * answers: user `heavy` has seen the first ten items, so their answers come from the model.
 */
export async function writeWideBundle(dir: string, nItems: number): Promise<void> {
  const raw = Array.from({ length: nItems }, (_, i) => `w${i}`);
  const itemIds = IdMap.fromRaw(raw);
  const sequences = [Array.from({ length: 10 }, (_, i) => i), Array.from({ length: nItems }, (_, i) => i)];
  const userIds = IdMap.fromRaw(['heavy', 'everything']);
  const history = fromSequences(sequences, nItems);
  const model = new Pop();
  await model.fit(history, { seed: 1 });
  await model.save(dir);
  await saveBundle(dir, { name: 'wide', fingerprint: 'wide', userIds, itemIds, history });
}

/** The repository root (for spawning `bin/reclab.js`). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Starts `reclab serve` as a child on a free port (no rate limit, plus `args`); resolves with its
 * URL once it prints that it listens, rejects if it exits first.
 */
export function spawnServe(models: string, db: string, args: readonly string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'reclab.js'), 'serve', '--models', models, '--db', db, '--port', '0', '--rate-limit', '0', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((ok, fail) => {
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(err);
      if (m) ok({ child, url: m[1] });
    });
    child.once('exit', (code) => fail(new Error(`server exited (${code}) before listening: ${err}`)));
  });
}

/** Two connected endpoints; messages cross asynchronously and as copies, as over a real channel. */
export function rpcPair(): { a: Rpc; b: Rpc; cut(): void } {
  let open = true;
  const link = (to: () => Rpc) => (message: RpcMessage, done: (e: Error | null) => void) => {
    if (!open) return done(new Error('channel closed'));
    setImmediate(() => open && to().receive(structuredClone(message)));
    done(null);
  };
  const a: Rpc = new Rpc(link(() => b));
  const b: Rpc = new Rpc(link(() => a));
  return {
    a,
    b,
    cut() {
      open = false;
      a.close('cut');
      b.close('cut');
    },
  };
}
