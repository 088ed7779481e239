/**
 * What the dashboard can show: the files under its folders (`runs/` and the results docs) that
 * reclab wrote — experiment results (`result*.json`), per-epoch traces (`*.trace.jsonl`), Arena
 * reports (`arena.json`) and law fits (`fit.json`). Each file gets an id (`<root index>:<relative
 * path>`); a route finds a file only through this listing, never by joining a client's string to
 * a path, so nothing outside the folders can be named.
 */
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** The kinds of file the dashboard reads. */
export type EntryKind = 'result' | 'trace' | 'arena' | 'law-fit';

/** One file the dashboard can show. */
export interface CatalogEntry {
  id: string;
  kind: EntryKind;
  /** Path relative to its root, with `/` separators (what the page shows). */
  path: string;
  /** The root folder as given (e.g. `runs`). */
  root: string;
  /** Absolute path (never sent to the browser). */
  file: string;
  /** Seconds since the epoch of the last change. */
  mtime: number;
}

/** Folders never descended into: checkpoints and saved models hold no reports and may be large. */
const SKIP_DIRS = new Set(['node_modules', '.git', 'models', 'cache', '.cache']);
const MAX_DEPTH = 5;

function kindOf(name: string): EntryKind | undefined {
  if (name.endsWith('.trace.jsonl')) return 'trace';
  if (name === 'arena.json') return 'arena';
  if (name === 'fit.json') return 'law-fit';
  if (/^result.*\.json$/.test(name)) return 'result';
  return undefined;
}

/** Lists the reclab files under `roots` (missing roots are skipped), newest first. */
export function scanCatalog(roots: readonly string[]): CatalogEntry[] {
  const out: CatalogEntry[] = [];
  roots.forEach((root, r) => {
    const base = resolve(root);
    const walk = (dir: string, depth: number): void => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return; // a missing or unreadable folder has nothing to show
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const file = join(dir, name);
        let st;
        try {
          st = statSync(file);
        } catch {
          continue;
        }
        if (st.isDirectory()) {
          if (depth < MAX_DEPTH && !SKIP_DIRS.has(name) && !name.endsWith('.ckpt') && !name.includes('.tmp-')) walk(file, depth + 1);
          continue;
        }
        const kind = kindOf(name);
        if (!kind) continue;
        const path = relative(base, file).split(sep).join('/');
        out.push({ id: `${r}:${path}`, kind, path, root, file, mtime: st.mtimeMs / 1000 });
      }
    };
    walk(base, 0);
  });
  return out.sort((a, b) => b.mtime - a.mtime || (a.id < b.id ? -1 : 1));
}

/** Reads an entry's JSON, naming the file on a parse error. */
export function readJson(e: CatalogEntry): unknown {
  const text = readFileSync(e.file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${e.root}/${e.path}: not valid JSON (${(err as Error).message})`);
  }
}

/** Reads an entry's JSON lines, naming file and line on a parse error; blank lines are skipped. */
export function readJsonLines(e: CatalogEntry): unknown[] {
  const out: unknown[] = [];
  readFileSync(e.file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      try {
        out.push(JSON.parse(line) as unknown);
      } catch (err) {
        throw new Error(`${e.root}/${e.path}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
    });
  return out;
}
