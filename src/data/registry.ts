/**
 * The dataset registry: known public datasets, where their official copy lives, its SHA-256,
 * and how to fetch, verify, unpack and cache it under `<cacheDir>/datasets/<name>/`.
 *
 * SHA-256 sums: MovieLens ml-100k, ml-1m, ml-20m, ml-25m and ml-latest-small are the sums
 * recorded for the files.grouplens.org zips in TensorFlow Datasets' URL checksums. No published
 * SHA-256 was found for ml-32m or the Amazon files: those are marked unverified — the first
 * download's sum is computed, stored beside the data (`.reclab-fetch.json`) and printed, and a
 * warning says it could not be checked.
 *
 * With no network the download fails at once with a message that shows how to use `--from`
 * with a local copy (the zip, or the unpacked folder).
 */
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, writeSync, closeSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Unzip, UnzipInflate } from 'fflate';
import type { FileFormat } from './readers/index.ts';
import { formatBytes, RATIO_FLOOR_BYTES, raiseHint, resolveLimits, statPath } from './source.ts';
import { DataError } from './errors.ts';
import type { ReadLimits } from './source.ts';

/** One fetchable dataset. */
export interface CatalogEntry {
  name: string;
  description: string;
  url: string;
  /** Expected SHA-256 of the downloaded file, or null when none is published (unverified). */
  sha256: string | null;
  /** Size in bytes of the download, when known. */
  size?: number;
  /** `zip`: unpack; `file`: store as is (gzip stays gzip; readers gunzip). */
  archive: 'zip' | 'file';
  /** Reader format of the fetched data. */
  format: FileFormat;
  /** For zips: the folder inside the archive holding the files. */
  root?: string;
  /** Files that must be present after fetching (relative to the dataset folder). */
  required: string[];
  /** Files also kept when present (side information). */
  optional?: string[];
  /** What to pass as the source to the reader (relative; default: the folder). */
  entry?: string;
  terms: string;
  /**
   * Where the same file sits in a developers' local mirror ({@link mirrorDir}), relative to it. A
   * dataset not fetched yet is read from there when present, so the examples that name it run
   * unchanged on a machine with the mirror; everyone else runs `reclab data fetch <name>`.
   */
  mirror?: string;
  /** Reader format of the mirror's copy when it is not {@link format} (a derived file). */
  mirrorFormat?: FileFormat;
}

const GROUPLENS = 'https://files.grouplens.org/datasets/movielens';
const ML_TERMS = 'GroupLens terms: research use, cite Harper & Konstan 2015, no redistribution, no commercial use without permission.';

function movielens(name: string, sha256: string | null, size: number | undefined, format: FileFormat, required: string[], optional: string[], description: string): CatalogEntry {
  return { name, description, url: `${GROUPLENS}/${name}.zip`, sha256, size, archive: 'zip', format, root: name, required, optional, terms: ML_TERMS };
}

const AMAZON_2014 = 'http://snap.stanford.edu/data/amazon/productGraph/categoryFiles';
const AMAZON_CATEGORIES = [
  'Beauty', 'Sports_and_Outdoors', 'Toys_and_Games', 'Video_Games', 'Cell_Phones_and_Accessories', 'Clothing_Shoes_and_Jewelry',
  'Home_and_Kitchen', 'Digital_Music', 'Office_Products', 'Musical_Instruments', 'Grocery_and_Gourmet_Food', 'Tools_and_Home_Improvement',
  'Movies_and_TV', 'CDs_and_Vinyl', 'Electronics', 'Books', 'Kindle_Store', 'Health_and_Personal_Care', 'Pet_Supplies',
  'Patio_Lawn_and_Garden', 'Automotive', 'Baby', 'Apps_for_Android', 'Amazon_Instant_Video',
];
const AMAZON_TERMS = 'Amazon review data (McAuley et al.): no licence stated; cite He & McAuley (WWW 2016) and McAuley et al. (SIGIR 2015).';

const SASREC_TERMS = `${ML_TERMS} Preprocessing by Kang & McAuley (SASRec, ICDM 2018).`;

/**
 * A benchmark file as published with a paper's code (one file, stored as is), with the SHA-256 of
 * the copy the published results here were computed on.
 */
function benchmarkFile(name: string, format: FileFormat, url: string, sha256: string, size: number, mirror: string, description: string, terms: string): CatalogEntry {
  const file = basename(url);
  return { name, description, url, sha256, size, archive: 'file', format, required: [file], entry: file, terms, mirror };
}

/** Every fetchable dataset by name. */
export const CATALOG: Record<string, CatalogEntry> = Object.fromEntries(
  [
    movielens('ml-100k', '50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229', 4924029, 'ml-100k', ['u.data'], ['u.item', 'u.user', 'u.genre', 'u.info', 'u.occupation', 'README'], 'MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (1998)'),
    {
      ...movielens('ml-1m', 'a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20', 5917549, 'ml-1m', ['ratings.dat'], ['movies.dat', 'users.dat', 'README'], 'MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 movies (2003)'),
      // The mirror has the same 1,000,209 (user, movie) events in time order, without ratings or
      // timestamps (ratings.dat itself is not in it); equal-timestamp ties are ordered differently.
      mirror: 'ml-1m-all/ml-1m-all.txt',
      mirrorFormat: 'sasrec' as const,
    },
    movielens('ml-20m', '96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3', 198702078, 'ml-20m', ['ratings.csv'], ['movies.csv', 'links.csv', 'tags.csv', 'README.txt'], 'MovieLens 20M: 20,000,263 ratings, 138,493 users (2015)'),
    movielens('ml-25m', '8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa', 261978986, 'ml-20m', ['ratings.csv'], ['movies.csv', 'links.csv', 'tags.csv', 'README.txt'], 'MovieLens 25M: 25,000,095 ratings, 162,541 users (2019)'),
    movielens('ml-32m', null, undefined, 'ml-20m', ['ratings.csv'], ['movies.csv', 'links.csv', 'tags.csv', 'README.txt'], 'MovieLens 32M: 32,000,204 ratings, 200,948 users (2023)'),
    movielens('ml-latest-small', '696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436', 978202, 'ml-20m', ['ratings.csv'], ['movies.csv', 'links.csv', 'tags.csv', 'README.txt'], 'MovieLens latest small: ~100,000 ratings, 610 users (changes over time)'),
    // The preprocessed files the sequential-recommendation papers report on (docs/results/).
    benchmarkFile('ml-1m-sasrec', 'sasrec', 'https://raw.githubusercontent.com/kang205/SASRec/master/data/ml-1m.txt', 'b725f3acb3986fe3130bffd1e77a74d182a1f51799567a236dbd60270f95b0a2', 9053831, 'ml-1m/ml-1m.txt', 'MovieLens 1M, SASRec preprocessing (items with < 5 ratings dropped): 6,040 users, 3,416 items, 999,611 events', SASREC_TERMS),
    benchmarkFile('beauty-s3rec', 'sasrec-lines', 'https://raw.githubusercontent.com/aHuiWang/CIKM2020-S3Rec/master/data/Beauty.txt', '226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8', 1090094, 'beauty-s3rec/Beauty.txt', 'Amazon Beauty 5-core, S3-Rec preprocessing: 22,363 users, 12,101 items, 198,502 events', `${AMAZON_TERMS} Preprocessing by Zhou et al. (S3-Rec, CIKM 2020).`),
    benchmarkFile('beauty-bert4rec', 'sasrec', 'https://raw.githubusercontent.com/FeiSun/BERT4Rec/master/data/beauty.txt', 'f480b7a7403852342ffd8f9809bb30697dd669be31813d0e204b698fec86ef49', 3912093, 'beauty-bert4rec/beauty.txt', 'Amazon Beauty, BERT4Rec preprocessing: 40,226 users, 54,542 items, 353,962 events', `${AMAZON_TERMS} Preprocessing by Sun et al. (BERT4Rec, CIKM 2019).`),
    ...AMAZON_CATEGORIES.map((cat): CatalogEntry => {
      const file = `reviews_${cat}_5.json.gz`;
      return {
        name: `amazon-${cat.replace(/^Amazon_/, '').toLowerCase().replace(/_/g, '-')}`,
        description: `Amazon 2014 ${cat.replace(/_/g, ' ')} 5-core reviews (McAuley et al.)`,
        url: `${AMAZON_2014}/${file}`,
        sha256: null,
        archive: 'file',
        format: 'amazon',
        required: [file],
        entry: file,
        terms: AMAZON_TERMS,
      };
    }),
  ].map((e) => [e.name, e]),
);

/** The cache directory: `$RECLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/reclab`, else `~/.cache/reclab`. */
export function defaultCacheDir(): string {
  if (process.env.RECLAB_CACHE_DIR) return resolve(process.env.RECLAB_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME ?? join(homedir() || tmpdir(), '.cache');
  return join(base, 'reclab');
}

/** Folder of a fetched dataset. */
export function datasetDir(name: string, cacheDir = defaultCacheDir()): string {
  return join(cacheDir, 'datasets', name);
}

const MARKER = '.reclab-fetch.json';

/** What a fetch recorded. */
export interface FetchRecord {
  name: string;
  url: string;
  /** SHA-256 of the downloaded (or given) archive/file, when there was one. */
  sha256: string | null;
  /**
   * `verified`: matched the catalog; `unverified`: no published sum, computed and stored;
   * `local-folder`: copied from an unpacked folder, nothing to hash; `local-file`: the data file of
   * a zipped dataset given on its own (e.g. `u.data`), whose own SHA-256 is stored — the catalog's
   * sum is the zip's, so it cannot be checked against it.
   */
  check: 'verified' | 'unverified' | 'local-folder' | 'local-file';
  origin: 'download' | 'local';
  from?: string;
  fetchedAt: string;
}

/** The record of a fetched dataset, or undefined when it has not been fetched. */
export function fetchedRecord(name: string, cacheDir = defaultCacheDir()): FetchRecord | undefined {
  const marker = join(datasetDir(name, cacheDir), MARKER);
  if (!existsSync(marker)) return undefined;
  try {
    return JSON.parse(readFileSync(marker, 'utf8')) as FetchRecord;
  } catch {
    return undefined;
  }
}

/**
 * The developers' local mirror of the benchmark files: `$RECLAB_DATASETS_MIRROR`, else
 * `../shared/datasets` from the working directory when it exists (the project's own machines).
 */
export function mirrorDir(): string | undefined {
  const dir = process.env.RECLAB_DATASETS_MIRROR ?? resolve('..', 'shared', 'datasets');
  return existsSync(dir) ? dir : undefined;
}

/**
 * The reader source (path) and format of a fetched dataset; for one not fetched, its copy in the
 * local mirror ({@link mirrorDir}) when there is one.
 */
export function fetchedSource(name: string, cacheDir = defaultCacheDir()): { source: string; format: FileFormat } | undefined {
  const entry = CATALOG[name];
  if (!entry) return undefined;
  if (!fetchedRecord(name, cacheDir)) {
    const mirror = mirrorDir();
    const copy = entry.mirror && mirror ? join(mirror, entry.mirror) : undefined;
    return copy && existsSync(copy) ? { source: copy, format: entry.mirrorFormat ?? entry.format } : undefined;
  }
  const dir = datasetDir(name, cacheDir);
  return { source: entry.entry ? join(dir, entry.entry) : dir, format: entry.format };
}

/** A fetch that could not complete; the message says what to do. */
export class FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface FetchOptions {
  /** A local copy to use instead of downloading: the archive/file, or the unpacked folder. */
  from?: string;
  cacheDir?: string;
  /** Fetch again even when cached. */
  force?: boolean;
  /** Accept a local archive whose SHA-256 differs from the catalog's. */
  allowMismatch?: boolean;
  /** Seconds to wait for the server to answer (default 20). */
  timeoutSeconds?: number;
  /** Called with human-readable progress lines. */
  log?: (line: string) => void;
  /** Bounds on unpacking a zip (`maxDecompressedBytes`, `maxCompressionRatio`; see {@link ReadLimits}). */
  limits?: ReadLimits;
}

/** Names of every catalog entry. */
export function catalogNames(): string[] {
  return Object.keys(CATALOG);
}

function entryOf(name: string): CatalogEntry {
  const entry = CATALOG[name];
  if (!entry) throw new FetchError(`unknown dataset "${name}". Known: ${catalogNames().join(', ')}`);
  return entry;
}

function fromHint(entry: CatalogEntry): string {
  const what = entry.archive === 'zip' ? `${basename(entry.url)} or its unpacked ${entry.root ?? entry.name}/ folder` : basename(entry.url);
  return `If you have a copy, run: reclab data fetch ${entry.name} --from <path to ${what}>`;
}

/**
 * Makes `name` available under the cache: already there (unless `force`), from a local copy
 * (`from`), or downloaded from the official source. Returns the dataset folder and the record.
 */
export async function fetchDataset(name: string, options: FetchOptions = {}): Promise<{ dir: string; record: FetchRecord; cached: boolean }> {
  const entry = entryOf(name);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = datasetDir(name, cacheDir);
  const log = options.log ?? (() => {});
  const existing = fetchedRecord(name, cacheDir);
  if (existing && !options.force && !options.from) return { dir, record: existing, cached: true };
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    let record: FetchRecord;
    if (options.from) {
      record = await fromLocal(entry, resolve(options.from), staging, options, log);
    } else {
      const download = join(staging, `.download-${basename(entry.url)}`);
      const sha = await downloadTo(entry, download, options.timeoutSeconds ?? 20, log);
      const check = verify(entry, sha, false, `downloaded ${basename(entry.url)}`);
      if (check === 'unverified') log(`warning: no published SHA-256 for ${entry.name}; stored the sum of this download (${sha}) — unverified`);
      await unpack(entry, download, staging, options.limits);
      rmSync(download, { force: true });
      record = { name, url: entry.url, sha256: sha, check, origin: 'download', fetchedAt: new Date().toISOString() };
    }
    for (const f of entry.required) {
      if (!existsSync(join(staging, f))) throw new FetchError(`${entry.name}: ${f} is missing after fetching${options.from ? ` from ${options.from}` : ''}`);
    }
    writeFileSync(join(staging, MARKER), `${JSON.stringify(record, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(staging, dir);
    log(`${entry.name}: ready in ${dir} (${record.check})`);
    return { dir, record, cached: false };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

function verify(entry: CatalogEntry, sha: string, allowMismatch: boolean, what: string): 'verified' | 'unverified' {
  if (entry.sha256 === null) return 'unverified';
  if (sha === entry.sha256) return 'verified';
  if (allowMismatch) return 'unverified';
  throw new FetchError(`${what}: SHA-256 mismatch for ${entry.name}: expected ${entry.sha256}, got ${sha} (corrupt or a different release; pass --allow-mismatch to accept it)`);
}

async function fromLocal(entry: CatalogEntry, from: string, staging: string, options: FetchOptions, log: (l: string) => void): Promise<FetchRecord> {
  let st;
  try {
    st = statPath(from);
  } catch (error) {
    // A symlink loop or no permission, said as such rather than "not found".
    throw new FetchError(`--from ${from}: ${error instanceof DataError ? error.reason : (error as Error).message}`);
  }
  if (!st) throw new FetchError(`--from ${from}: not found`);
  const base = { name: entry.name, url: entry.url, origin: 'local' as const, from, fetchedAt: new Date().toISOString() };
  if (st.isDirectory()) {
    // An unpacked copy: take the files we know (or the archive inside it).
    const folder = entry.root && existsSync(join(from, entry.root, entry.required[0])) ? join(from, entry.root) : from;
    const archive = join(from, basename(entry.url));
    if (!existsSync(join(folder, entry.required[0])) && existsSync(archive)) return fromLocal(entry, archive, staging, options, log);
    for (const f of [...entry.required, ...(entry.optional ?? [])]) {
      const src = join(folder, f);
      if (existsSync(src)) copyFileSync(src, join(staging, f));
      else if (entry.required.includes(f)) throw new FetchError(`--from ${from}: ${f} not found there (expected the unpacked ${entry.name} folder or ${basename(entry.url)})`);
    }
    log(`${entry.name}: copied from ${folder} (an unpacked folder cannot be checked against the archive's SHA-256)`);
    return { ...base, sha256: null, check: 'local-folder' };
  }
  // The catalog's sum is the zip's: a data file given for a zipped dataset (u.data, ratings.dat)
  // is taken as that file, never checked against the archive's sum (it could only fail). A file
  // named .zip is always checked, so a corrupt download is refused rather than read as data.
  if (entry.archive === 'zip' && !from.toLowerCase().endsWith('.zip') && !isZipFile(from)) return fromDataFile(entry, from, staging, base, log);
  const sha = await sha256Of(from);
  const check = verify(entry, sha, options.allowMismatch ?? false, `--from ${from}`);
  if (check === 'unverified') log(`warning: ${entry.sha256 === null ? `no published SHA-256 for ${entry.name}` : 'SHA-256 mismatch accepted'}; stored ${sha} — unverified`);
  await unpack(entry, from, staging, options.limits);
  return { ...base, sha256: sha, check };
}

/** True when `path` starts with a zip signature (local file header, or the empty archive's end record). */
function isZipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    return n === 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6);
  } finally {
    closeSync(fd);
  }
}

/**
 * `--from <data file>` for a zipped dataset: the file becomes the dataset's main file (the first
 * required one, whatever the file is called: `~/Downloads/u.data` or `ratings-copy.dat`), and the
 * catalog's other files found beside it (u.item, movies.dat — side information) are copied too. A
 * required file that is neither is an error naming it.
 */
async function fromDataFile(entry: CatalogEntry, from: string, staging: string, base: Omit<FetchRecord, 'sha256' | 'check'>, log: (l: string) => void): Promise<FetchRecord> {
  const main = entry.required.includes(basename(from)) ? basename(from) : entry.required[0];
  copyFileSync(from, join(staging, main));
  for (const f of [...entry.required, ...(entry.optional ?? [])]) {
    if (f === main) continue;
    const sibling = join(dirname(from), f);
    if (existsSync(sibling)) copyFileSync(sibling, join(staging, f));
    else if (entry.required.includes(f)) throw new FetchError(`--from ${from}: ${entry.name} also needs ${f}, not found beside it (give the folder or ${basename(entry.url)} instead)`);
  }
  const sha = await sha256Of(from);
  log(`${entry.name}: ${basename(from)} taken as ${main} (a data file cannot be checked against the SHA-256 of ${basename(entry.url)}; stored its own, ${sha})`);
  return { ...base, sha256: sha, check: 'local-file' };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads `entry.url` to `target`, returning its SHA-256. Fails fast without network. */
async function downloadTo(entry: CatalogEntry, target: string, timeoutSeconds: number, log: (l: string) => void): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutSeconds * 1000);
  let response: Response;
  try {
    response = await fetch(entry.url, { signal: controller.signal, redirect: 'follow' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = controller.signal.aborted ? `no answer within ${timeoutSeconds} s` : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new FetchError(`cannot download ${entry.name} from ${entry.url}: ${why} (offline?). ${fromHint(entry)}`);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok || !response.body) throw new FetchError(`cannot download ${entry.name}: HTTP ${response.status} from ${entry.url}. ${fromHint(entry)}`);
  const total = Number(response.headers.get('content-length') ?? entry.size ?? 0);
  log(`downloading ${entry.url}${total ? ` (${(total / 1e6).toFixed(1)} MB)` : ''}`);
  const hash = createHash('sha256');
  const out = createWriteStream(target);
  let got = 0;
  let lastReport = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      got += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      if (total && got - lastReport > total / 10) {
        lastReport = got;
        log(`  ${Math.round((100 * got) / total)} %`);
      }
    }
  } catch (error) {
    out.destroy();
    throw new FetchError(`download of ${entry.name} interrupted after ${got} bytes: ${(error as Error).message}. ${fromHint(entry)}`);
  }
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  if (entry.size && got !== entry.size) throw new FetchError(`download of ${entry.name} has ${got} bytes, expected ${entry.size}. ${fromHint(entry)}`);
  return hash.digest('hex');
}

/** Archive bytes handed to the inflater at a time: fflate inflates a whole push at once, so this caps one push's output (≈ 16 MiB even at deflate's maximum ratio). */
const UNZIP_PUSH_BYTES = 16 << 10;

/**
 * Unpacks a zip (streaming, with fflate) or copies a plain file into `staging`. The bytes
 * written are held to `limits`: past `maxDecompressedBytes` in all, or past
 * `maxCompressionRatio` × the archive bytes read (once {@link RATIO_FLOOR_BYTES} are out), the
 * unpacking stops — a zip bomb fails after a few MiB instead of filling the disk.
 */
async function unpack(entry: CatalogEntry, file: string, staging: string, limits?: ReadLimits): Promise<void> {
  const { maxDecompressedBytes, maxCompressionRatio } = resolveLimits(limits);
  if (entry.archive === 'file') {
    copyFileSync(file, join(staging, entry.required[0]));
    return;
  }
  const wanted = new Set([...entry.required, ...(entry.optional ?? [])]);
  const root = entry.root ? `${entry.root}/` : '';
  let failure: Error | null = null;
  let bytesIn = 0;
  let bytesOut = 0;
  const overLimit = (): FetchError | null => {
    if (bytesOut > maxDecompressedBytes) {
      return new FetchError(`${basename(file)}: unpacks to more than ${formatBytes(maxDecompressedBytes)} (maxDecompressedBytes): ${raiseHint('maxDecompressedBytes')}`);
    }
    if (bytesOut > RATIO_FLOOR_BYTES && bytesOut > maxCompressionRatio * bytesIn) {
      return new FetchError(`${basename(file)}: expands more than ${maxCompressionRatio} × (maxCompressionRatio): a zip bomb? ${raiseHint('maxCompressionRatio')}`);
    }
    return null;
  };
  const unzip = new Unzip((f) => {
    const name = f.name;
    if (name.endsWith('/') || name.includes('..') || name.startsWith('/')) return;
    const rel = name.startsWith(root) ? name.slice(root.length) : name;
    if (!wanted.has(rel) && !wanted.has(basename(rel))) return;
    const target = join(staging, wanted.has(rel) ? rel : basename(rel));
    if (!resolve(target).startsWith(resolve(staging) + sep)) return;
    // The size an entry declares can be checked before a byte is inflated (the count below catches a lie).
    if (f.originalSize !== undefined && bytesOut + f.originalSize > maxDecompressedBytes) {
      bytesOut += f.originalSize;
      failure ??= overLimit();
      return;
    }
    const fd = openSync(target, 'w');
    let open = true;
    const close = (): void => {
      if (open) closeSync(fd);
      open = false;
    };
    f.ondata = (err, data, final) => {
      if (failure || !open) return close();
      if (err) {
        failure = new FetchError(`${basename(file)}: cannot unzip ${name}: ${err.message}`);
        return close();
      }
      bytesOut += data.length;
      failure = overLimit();
      if (failure) return close();
      writeSync(fd, data);
      if (final) close();
    };
    f.start();
  });
  unzip.register(UnzipInflate);
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const bytes = chunk as Uint8Array;
      for (let at = 0; at < bytes.length; at += UNZIP_PUSH_BYTES) {
        const piece = bytes.subarray(at, at + UNZIP_PUSH_BYTES);
        bytesIn += piece.length;
        unzip.push(piece);
        if (failure) throw failure;
      }
    }
    unzip.push(new Uint8Array(0), true);
  } catch (error) {
    if (error instanceof FetchError) throw error;
    throw new FetchError(`${basename(file)}: not a readable zip (${(error as Error).message})`);
  }
  if (failure) throw failure;
  if (readdirSync(staging).filter((f) => !f.startsWith('.')).length === 0) {
    throw new FetchError(`${basename(file)}: none of the expected files (${[...wanted].join(', ')}) in the archive`);
  }
}
