/**
 * `loadDataset(spec, prep)`: the one call that turns "the data a user has" into a prepared
 * {@link Dataset} — resolve the source (a path, a fetched registry name, or `synthetic`), detect
 * the format, look in the binary cache, otherwise read + prepare + cache.
 *
 * The cache key is the prepared fingerprint: SHA-256 of (source fingerprint, normalized
 * preparation options), where the source fingerprint hashes the reader format, its options and
 * the content of every file the reader reads. File content hashes are memoized on disk by
 * (path, size, mtime) in `<cacheDir>/file-hashes.json`, so a warm load does not re-hash a big file.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Dataset } from './types.ts';
import { DataError } from './errors.ts';
import { canonicalJson, sha256File, sha256Text, displayName, resolveLimits, statPath } from './source.ts';
import type { ReadLimits } from './source.ts';
import { normalizePrepare, prepareWithReport } from './prepare.ts';
import type { PrepareOptions, PrepareReport } from './prepare.ts';
import { canonicalFormat, detectFormat, probeText, readSource } from './readers/index.ts';
import type { FileFormat, ReaderOptions } from './readers/index.ts';
import { readCache, writeCache } from './cache.ts';
import { recboleFiles } from './readers/recbole.ts';
import { CATALOG, defaultCacheDir, fetchedSource } from './registry.ts';
import { generateSynthetic } from './synthetic.ts';
import type { SyntheticOptions } from './synthetic.ts';

export type { PrepareOptions };

/**
 * What to load. Extra keys are reader options (`delimiter`, `header`, `timeUnit`, `items`, `users`, `meta`, …),
 * read bounds (`maxLineBytes`, `maxDecompressedBytes`, `maxCompressionRatio`: {@link ReadLimits}) or synthetic sizes.
 */
export interface DataSpec extends ReadLimits {
  source: string;
  /** 'auto' | 'ml-100k' | 'ml-1m' | 'ml-20m' | 'sasrec' | 'sasrec-lines' | 'recbole' | 'amazon' | 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'synthetic' */
  format?: string;
  columns?: { user: string; item: string; rating?: string; timestamp?: string; [side: string]: string | undefined };
  name?: string;
  [k: string]: unknown;
}

export interface LoadOptions {
  /** Cache folder (default {@link defaultCacheDir}); `false` disables the prepared-data cache. */
  cacheDir?: string | false;
  /** Print what happens on stderr (default: false). */
  progress?: boolean;
}

/** Default size of the synthetic dataset (about ML-100K). */
export const SYNTHETIC_DEFAULT: SyntheticOptions = { users: 1000, items: 1700, interactions: 100_000, seed: 42 };

/** What {@link loadDatasetWithInfo} reports besides the dataset. */
export interface LoadInfo {
  format: string;
  source: string;
  fromCache: boolean;
  /** Counts of what preparation removed (absent when served from the cache). */
  report?: PrepareReport;
  seconds: number;
}

/** Reads, prepares and caches a dataset. See the file comment. */
export async function loadDataset(spec: DataSpec, prep: PrepareOptions = {}, options: { cacheDir?: string | false; progress?: boolean } = {}): Promise<Dataset> {
  return (await loadDatasetWithInfo(spec, prep, options)).dataset;
}

/** True when `spec` asks for the synthetic generator. */
export function isSynthetic(spec: DataSpec): boolean {
  return spec.format === 'synthetic' || spec.source === 'synthetic' || spec.source.startsWith('synthetic:');
}

/** Parses `synthetic:users=1000,items=500,interactions=50000,seed=1` (all optional) plus spec keys. */
export function syntheticOptions(spec: DataSpec): SyntheticOptions {
  const o: Record<string, unknown> = { ...SYNTHETIC_DEFAULT };
  const tail = spec.source.startsWith('synthetic:') ? spec.source.slice('synthetic:'.length) : '';
  for (const part of tail.split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (v === undefined || Number.isNaN(Number(v))) throw new DataError(spec.source, 0, k, `expected key=number in synthetic:…, got ${JSON.stringify(part)}`);
    o[k.trim()] = Number(v);
  }
  for (const k of ['users', 'items', 'interactions', 'seed', 'clusters', 'popularityExponent', 'activitySigma', 'minLength', 'pStay', 'pFollow']) {
    if (typeof spec[k] === 'number') o[k] = spec[k];
  }
  if (spec.name) o.name = spec.name;
  return o as unknown as SyntheticOptions;
}

function readerOptions(spec: DataSpec): ReaderOptions {
  const keys = ['columns', 'delimiter', 'header', 'timeUnit', 'encoding', 'items', 'users', 'order', 'item', 'meta'] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (spec[k] !== undefined) out[k] = spec[k];
  return out as ReaderOptions;
}

/**
 * The read bounds of a spec, checked (a bad value fails before anything is read). They only
 * decide whether a read may go on, never what it returns, so they stay out of the fingerprint.
 */
export function limitsOf(spec: DataSpec): ReadLimits {
  const { maxLineBytes, maxDecompressedBytes, maxCompressionRatio } = spec;
  const given: ReadLimits = { maxLineBytes, maxDecompressedBytes, maxCompressionRatio };
  resolveLimits(given);
  return given;
}

/** Resolves a source that is not a path: a registry name that has been fetched. */
function resolveSource(spec: DataSpec, cacheDir: string): { source: string; format: string | undefined } {
  // statPath throws for what exists but cannot be read (a symlink loop, no permission): only "nothing there" falls through.
  if (statPath(spec.source)) return { source: resolve(spec.source), format: spec.format };
  const entry = CATALOG[spec.source];
  if (entry) {
    const fetched = fetchedSource(spec.source, cacheDir);
    if (!fetched) {
      throw new DataError(spec.source, 0, undefined, `not fetched yet: run \`reclab data fetch ${spec.source}\` (or \`reclab data fetch ${spec.source} --from <local copy>\` offline)`);
    }
    return { source: fetched.source, format: spec.format && spec.format !== 'auto' ? spec.format : fetched.format };
  }
  throw new DataError(spec.source, 0, undefined, 'no such file or folder, and not a known dataset name (see `reclab data fetch --list`)');
}

/** Files a reader will read for `source` (for the fingerprint). */
export function sourceFiles(source: string, format: FileFormat, ro: ReaderOptions): string[] {
  const isDir = statSync(source).isDirectory();
  const dir = isDir ? source : dirname(source);
  const pick = (main: string, sides: string[]): string[] => {
    const files = [isDir ? join(dir, main) : source];
    for (const s of sides) if (statPath(join(dir, s))) files.push(join(dir, s));
    return files;
  };
  let files: string[];
  switch (format) {
    case 'ml-100k':
      files = pick('u.data', ['u.item', 'u.user', 'u.genre']);
      break;
    case 'ml-1m':
      files = pick('ratings.dat', ['movies.dat', 'users.dat']);
      break;
    case 'ml-20m':
      files = pick('ratings.csv', ['movies.csv', 'links.csv']);
      break;
    case 'recbole':
      files = recboleFiles(source);
      break;
    default:
      files = [source];
  }
  for (const extra of [ro.items, ro.users, ro.meta]) if (typeof extra === 'string') files.push(resolve(extra));
  return files.filter((f) => statPath(f)?.isFile());
}

/** On-disk memo of file hashes keyed by (path, size, mtime). */
function hashFiles(files: string[], cacheDir: string | false): string[] {
  const memoPath = cacheDir ? join(cacheDir, 'file-hashes.json') : null;
  let memo: Record<string, string> = {};
  if (memoPath && existsSync(memoPath)) {
    try {
      memo = JSON.parse(readFileSync(memoPath, 'utf8')) as Record<string, string>;
    } catch {
      memo = {};
    }
  }
  let dirty = false;
  const out = files.map((f) => {
    const st = statSync(f);
    const key = `${resolve(f)}|${st.size}|${st.mtimeMs}`;
    let h = memo[key];
    if (!h) {
      h = sha256File(f);
      memo[key] = h;
      dirty = true;
    }
    return `${displayName(f)}:${h}`;
  });
  if (memoPath && dirty) {
    try {
      mkdirSync(dirname(memoPath), { recursive: true });
      const tmp = `${memoPath}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(memo));
      renameSync(tmp, memoPath);
    } catch {
      // The memo is an optimization only.
    }
  }
  return out;
}

/** {@link loadDataset}, also telling where the data came from and what preparation removed. */
export async function loadDatasetWithInfo(spec: DataSpec, prep: PrepareOptions = {}, options: LoadOptions = {}): Promise<{ dataset: Dataset; info: LoadInfo }> {
  const t0 = performance.now();
  const say = (line: string): void => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const cacheDir = options.cacheDir === false ? false : (options.cacheDir ?? defaultCacheDir());
  const normalized = normalizePrepare(prep);
  if (isSynthetic(spec)) {
    const syn = syntheticOptions(spec);
    say(`generating synthetic data: ${syn.users} users, ${syn.items} items, ${syn.interactions} interactions, seed ${syn.seed}`);
    const raw = generateSynthetic(syn);
    const { dataset, report } = prepareWithReport(raw, normalized);
    return { dataset, info: { format: 'synthetic', source: 'synthetic', fromCache: false, report, seconds: (performance.now() - t0) / 1000 } };
  }
  const limits = limitsOf(spec);
  const resolved = resolveSource(spec, cacheDir === false ? defaultCacheDir() : cacheDir);
  const requested = resolved.format ?? 'auto';
  const format = requested === 'auto' ? await detectFormat(resolved.source, limits) : canonicalFormat(requested);
  const ro = readerOptions(spec);
  const roForHash = { ...ro, layout: format === 'sasrec-lines' ? 'lines' : undefined };
  const files = sourceFiles(resolved.source, format, ro);
  // A binary or line-less main file fails on its first MiB here, not after hashing all of it.
  if (format !== 'parquet' && files.length > 0) await probeText(files[0], limits);
  const hashes = hashFiles(files, cacheDir);
  const sourceFp = sha256Text('reclab-source-v1', format, canonicalJson(roForHash), ...hashes);
  const fingerprint = sha256Text('reclab-prepared-v1', sourceFp, canonicalJson(normalized));
  if (cacheDir !== false) {
    const cached = readCache(cacheDir, fingerprint);
    if (cached) {
      say(`loaded ${cached.name} from the cache (${fingerprint.slice(0, 12)})`);
      return { dataset: cached, info: { format, source: resolved.source, fromCache: true, seconds: (performance.now() - t0) / 1000 } };
    }
  }
  say(`reading ${basename(resolved.source)} as ${format}`);
  const raw = await readSource(resolved.source, format, ro, { fingerprint: sourceFp, name: spec.name, limits });
  const { dataset, report } = prepareWithReport(raw, normalized);
  if (cacheDir !== false) {
    try {
      writeCache(cacheDir, dataset);
    } catch (error) {
      say(`warning: could not write the cache (${(error as Error).message})`);
    }
  }
  return { dataset, info: { format, source: resolved.source, fromCache: false, report, seconds: (performance.now() - t0) / 1000 } };
}
