/**
 * The served-model slot: which model answers right now, and how it is replaced without failing a
 * request. A request reads `slot.current` once at its start and uses that object to the end;
 * a swap loads the new bundle completely off to the side and then replaces the reference in one
 * assignment, so no request ever sees a half-loaded model, and in-flight requests finish on the
 * model they started with.
 *
 * `--models <dir>` is either one bundle directory, or a directory of bundles (one subdirectory
 * each) where the served one is named by the file `CURRENT` or, without it, the newest.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isBundleDir, loadBundle, type ServedModel } from './bundle.ts';

/** Holds the served model and swaps it atomically. */
export class ModelSlot {
  private served?: ServedModel;
  /** The last swap queued (swaps run one after another, in the order asked). */
  private queued?: { name: string | undefined; done: Promise<ServedModel> };
  /** Number of successful swaps (the first load counts). */
  swaps = 0;

  constructor(readonly root: string) {}

  /** The model answering now, or undefined before the first load. */
  get current(): ServedModel | undefined {
    return this.served;
  }

  /** Names of the bundles under the root (empty when the root is itself a bundle). */
  async available(): Promise<string[]> {
    if (isBundleDir(this.root)) return [];
    const names = await readdir(this.root).catch(() => [] as string[]);
    return names.filter((n) => isBundleDir(join(this.root, n))).sort();
  }

  /** Directory of the bundle to serve: `name`, else CURRENT, else the newest bundle. */
  async resolve(name?: string): Promise<{ dir: string; label: string }> {
    if (isBundleDir(this.root)) {
      if (name) throw new Error(`${this.root} is a single model; cannot select "${name}"`);
      return { dir: this.root, label: this.root.split('/').filter(Boolean).pop() ?? this.root };
    }
    const names = await this.available();
    if (names.length === 0) throw new Error(`${this.root}: no servable model found (train one with \`reclab train … --out ${this.root}/<name>\`)`);
    let chosen = name;
    if (!chosen && existsSync(join(this.root, 'CURRENT'))) chosen = (await readFile(join(this.root, 'CURRENT'), 'utf8')).trim();
    if (!chosen) {
      const times = await Promise.all(names.map(async (n) => (await stat(join(this.root, n, 'serve.json'))).mtimeMs));
      chosen = names[times.indexOf(Math.max(...times))];
    }
    if (!names.includes(chosen)) throw new Error(`model "${chosen}" not found under ${this.root}; available: ${names.join(', ')}`);
    return { dir: join(this.root, chosen), label: chosen };
  }

  /**
   * Loads the selected bundle and makes it current. Swaps are serialised in the order asked, so
   * of two concurrent swaps to different models the later one wins and each caller is answered
   * with the model it asked for; a call asking for the same model as the swap queued last shares
   * that load. On failure the previous model keeps serving and the error is thrown to the caller.
   */
  swap(name?: string): Promise<ServedModel> {
    const last = this.queued;
    if (last && last.name === name) return last.done;
    const done = (async () => {
      await last?.done.catch(() => {}); // a failed earlier swap does not block this one
      const { dir, label } = await this.resolve(name);
      const next = await loadBundle(dir, label);
      this.served = next; // the one atomic step
      this.swaps++;
      return next;
    })();
    const entry = { name, done };
    this.queued = entry;
    // Once settled, a later identical request loads afresh (the bundle may have been retrained).
    void done.then(
      () => this.queued === entry && (this.queued = undefined),
      () => this.queued === entry && (this.queued = undefined),
    );
    return done;
  }
}
