/**
 * `reclab data …`: describe, fetch and split datasets (see docs/data.md).
 *
 *   reclab data describe <source> [--format F] [--json] [prep flags] [reader flags]
 *   reclab data fetch <name> [--from <file-or-dir>] [--cache-dir D] | reclab data fetch --list
 *   reclab data split <source> --out <dir> [--split loo|temporal|ratio …] [prep flags]
 */
import type { Command } from 'commander';
import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { loadDatasetWithInfo } from '../../data/load.ts';
import type { DataSpec } from '../../data/load.ts';
import type { PrepareOptions } from '../../data/prepare.ts';
import { describeDataset, formatStats } from '../../data/stats.ts';
import { splitDataset } from '../../data/split.ts';
import type { SplitOptions } from '../../data/split.ts';
import { CATALOG, defaultCacheDir, fetchDataset, fetchedRecord } from '../../data/registry.ts';
import type { Dataset, Interactions } from '../../data/types.ts';
import { DEFAULT_LIMITS, formatBytes, parseBytes } from '../../data/source.ts';

function num(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (value.trim() === '' || !Number.isFinite(x)) throw new Error(`--${flag}: expected a number, got "${value}"`);
    return x;
  };
}

function int(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (!Number.isInteger(x) || x < 0) throw new Error(`--${flag}: expected a non-negative integer, got "${value}"`);
    return x;
  };
}

function positive(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (value.trim() === '' || !Number.isFinite(x) || x <= 0) throw new Error(`--${flag}: expected a positive number, got "${value}"`);
    return x;
  };
}

/** A byte count flag: `1000`, `64KiB`, `16MiB`, `32GiB`. */
function bytes(flag: string): (value: string) => number {
  return (value: string) => {
    try {
      return parseBytes(value);
    } catch (error) {
      throw new Error(`--${flag}: ${(error as Error).message}`);
    }
  };
}

/** `--k-core 5` or `--k-core 5,10` (user,item). */
function kCore(value: string): number | { user: number; item: number } {
  const parts = value.split(',').map((v) => Number(v.trim()));
  if (parts.some((x) => !Number.isInteger(x) || x < 0) || parts.length > 2) throw new Error(`--k-core: expected N or USER,ITEM (non-negative integers), got "${value}"`);
  return parts.length === 1 ? parts[0] : { user: parts[0], item: parts[1] };
}

/** `--columns user=uid,item=iid,rating=stars,item:title=title`. */
function columns(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--columns: expected role=column pairs separated by commas, got "${part}"`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  if (!out.user || !out.item) throw new Error('--columns: map at least user=… and item=…');
  return out;
}

/** Reader and preparation flags shared by describe, split and quickstart. */
export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--format <format>', 'auto, ml-100k, ml-1m, ml-20m, sasrec, sasrec-lines, recbole, amazon, csv, tsv, jsonl, parquet, synthetic', 'auto')
    .option('--columns <map>', 'column mapping, e.g. user=uid,item=iid,rating=stars,timestamp=ts,item:title=title', columns)
    .option('--delimiter <d>', 'field separator for csv/tsv (e.g. ";" or "\\t" or whitespace)')
    .option('--header', 'the first row names the columns')
    .option('--no-header', 'the file has no header row')
    .option('--time-unit <unit>', 'timestamps in s, ms, or auto (ISO dates allowed)')
    .option('--dedup <policy>', 'repeated (user, item) pairs: first, last or all')
    .option('--min-rating <x>', 'keep events with rating ≥ x (implicit feedback)', num('min-rating'))
    .option('--k-core <n>', 'iterative k-core: N, or USER,ITEM', kCore)
    .option('--min-seq-len <n>', 'drop users with fewer events', int('min-seq-len'))
    .option('--cache-dir <dir>', `cache folder (default ${defaultCacheDir()})`)
    .option('--no-cache', 'do not read or write the prepared-data cache')
    .option('--max-line-bytes <n>', `longest line accepted, e.g. 16MiB (default ${formatBytes(DEFAULT_LIMITS.maxLineBytes)})`, bytes('max-line-bytes'))
    .option('--max-decompressed-bytes <n>', `most bytes a gzip/Parquet file may decompress to (default ${formatBytes(DEFAULT_LIMITS.maxDecompressedBytes)})`, bytes('max-decompressed-bytes'))
    .option('--max-compression-ratio <x>', `most decompressed bytes per compressed byte (default ${DEFAULT_LIMITS.maxCompressionRatio})`, positive('max-compression-ratio'));
}


interface SourceFlags {
  format: string;
  columns?: Record<string, string>;
  delimiter?: string;
  header?: boolean;
  timeUnit?: string;
  dedup?: string;
  minRating?: number;
  kCore?: number | { user: number; item: number };
  minSeqLen?: number;
  cacheDir?: string;
  cache: boolean;
  maxLineBytes?: number;
  maxDecompressedBytes?: number;
  maxCompressionRatio?: number;
}

/** Builds the DataSpec and PrepareOptions from flags. */
export function specFromFlags(source: string, o: SourceFlags, headerGiven = false): { spec: DataSpec; prep: PrepareOptions; cacheDir: string | false } {
  const spec: DataSpec = { source, format: o.format };
  if (o.columns) spec.columns = o.columns as DataSpec['columns'];
  if (o.delimiter !== undefined) spec.delimiter = o.delimiter === '\\t' || o.delimiter === 'tab' ? '\t' : o.delimiter;
  // commander defaults header to true once --no-header is declared; pass it only when given.
  if (headerGiven) spec.header = o.header;
  if (o.timeUnit !== undefined) {
    if (!['s', 'ms', 'auto'].includes(o.timeUnit)) throw new Error(`--time-unit: expected s, ms or auto, got "${o.timeUnit}"`);
    spec.timeUnit = o.timeUnit;
  }
  if (o.maxLineBytes !== undefined) spec.maxLineBytes = o.maxLineBytes;
  if (o.maxDecompressedBytes !== undefined) spec.maxDecompressedBytes = o.maxDecompressedBytes;
  if (o.maxCompressionRatio !== undefined) spec.maxCompressionRatio = o.maxCompressionRatio;
  const prep: PrepareOptions = {};
  if (o.dedup !== undefined) {
    if (!['first', 'last', 'all'].includes(o.dedup)) throw new Error(`--dedup: expected first, last or all, got "${o.dedup}"`);
    prep.dedup = o.dedup as PrepareOptions['dedup'];
  }
  if (o.minRating !== undefined) prep.minRating = o.minRating;
  if (o.kCore !== undefined) prep.kCore = o.kCore;
  if (o.minSeqLen !== undefined) prep.minSeqLen = o.minSeqLen;
  return { spec, prep, cacheDir: o.cache === false ? false : (o.cacheDir ?? defaultCacheDir()) };
}

function parseSplit(o: { split: string; quantile?: number; validQuantile?: number; date?: string; train?: number; valid?: number; order?: string; seed?: number }): SplitOptions {
  switch (o.split) {
    case 'loo':
      return { kind: 'loo' };
    case 'temporal':
      return { kind: 'temporal', quantile: o.quantile, validQuantile: o.validQuantile, date: o.date };
    case 'ratio': {
      if (o.order !== undefined && o.order !== 'random' && o.order !== 'time') throw new Error(`--order: expected random or time, got "${o.order}"`);
      return { kind: 'ratio', train: o.train ?? 0.8, valid: o.valid ?? 0.1, order: o.order as 'random' | 'time' | undefined, seed: o.seed };
    }
    default:
      throw new Error(`--split: expected loo, temporal or ratio, got "${o.split}"`);
  }
}

/** Writes one view as TSV with raw ids: `user  item  timestamp  [rating]`. */
async function writeView(path: string, d: Dataset, view: Interactions): Promise<void> {
  const out = createWriteStream(path);
  const users = d.userIds.toArray();
  const items = d.itemIds.toArray();
  let buf = view.values ? 'user\titem\ttimestamp\trating\n' : 'user\titem\ttimestamp\n';
  for (let u = 0; u < view.nUsers; u++) {
    for (let p = view.offsets[u]; p < view.offsets[u + 1]; p++) {
      buf += `${users[u]}\t${items[view.items[p]]}\t${view.times[p]}${view.values ? `\t${view.values[p]}` : ''}\n`;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
        buf = '';
      }
    }
  }
  out.write(buf);
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
}

/** Registers `reclab data`. */
export function register(program: Command): void {
  const data = program.command('data').description('datasets: describe, fetch, split, ctr');

  addSourceOptions(
    data
      .command('describe')
      .description('statistics of a dataset (users, items, density, sequence lengths, popularity Gini, long tail, ApEn)')
      .argument('<source>', 'a file or folder, a fetched dataset name (ml-1m …), or synthetic[:users=…,items=…,interactions=…,seed=…]'),
  )
    .option('--json', 'print JSON instead of a table')
    .option('--apen-m <m>', 'ApEn window length', int('apen-m'), 2)
    .option('--apen-r <r>', 'ApEn tolerance (0: equal ids)', num('apen-r'), 0)
    .option('--apen-max-len <n>', 'ApEn over each user’s last n events only', int('apen-max-len'))
    .action(async (source: string, o: SourceFlags & { json?: boolean; apenM: number; apenR: number; apenMaxLen?: number }, cmd: Command) => {
      const { spec, prep, cacheDir } = specFromFlags(source, o, cmd.getOptionValueSource('header') === 'cli');
      const { dataset, info } = await loadDatasetWithInfo(spec, prep, { cacheDir });
      const stats = describeDataset(dataset, { apenM: o.apenM, apenR: o.apenR, apenMaxLen: o.apenMaxLen });
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...stats, source: info.source, prepareReport: info.report }, null, 2)}\n`);
      } else {
        process.stdout.write(`${formatStats(stats)}\n`);
        process.stdout.write(`(${info.fromCache ? 'from cache' : `read as ${info.format}`} in ${info.seconds.toFixed(2)} s)\n`);
      }
    });

  data
    .command('ctr')
    .description('the CTR view of explicit ratings (MovieLens-100K folder): feature fields, label rating ≥ N, last-N history, time split')
    .argument('<source>', 'folder with u.data, u.user, u.item')
    .option('--min-positive <r>', 'label 1 when rating ≥ r', int('min-positive'), 4)
    .option('--max-history <n>', 'behaviours kept before each event', int('max-history'), 30)
    .option('--out <file.tsv>', 'also write the view: one impression per line (split, label, fields, genres, history)')
    .action(async (source: string, o: { minPositive: number; maxHistory: number; out?: string }) => {
      const { buildCtrMovieLens100k, describeCtr, ctrRowsTsv } = await import('../../data/ctr.ts');
      const ds = buildCtrMovieLens100k(source, { minPositive: o.minPositive, maxHistory: o.maxHistory });
      process.stdout.write(`${describeCtr(ds).join('\n')}\n`);
      if (o.out) {
        writeFileSync(o.out, ctrRowsTsv(ds));
        process.stdout.write(`wrote ${ds.nEvents} impressions to ${o.out}\n`);
      }
    });

  data
    .command('fetch')
    .description('download a public dataset from its official source, verify its SHA-256, unpack and cache it')
    .argument('[name]', `dataset name (${Object.keys(CATALOG).slice(0, 6).join(', ')}, amazon-<category> …)`)
    .option('--from <path>', 'use a local copy instead of downloading: the archive, or the unpacked folder')
    .option('--cache-dir <dir>', `cache folder (default ${defaultCacheDir()})`)
    .option('--force', 'fetch again even if cached')
    .option('--allow-mismatch', 'accept a local archive whose SHA-256 differs from the registry')
    .option('--list', 'list the known datasets')
    .option('--max-decompressed-bytes <n>', `most bytes an archive may unpack to (default ${formatBytes(DEFAULT_LIMITS.maxDecompressedBytes)})`, bytes('max-decompressed-bytes'))
    .option('--max-compression-ratio <x>', `most unpacked bytes per archive byte (default ${DEFAULT_LIMITS.maxCompressionRatio})`, positive('max-compression-ratio'))
    .action(async (name: string | undefined, o: { from?: string; cacheDir?: string; force?: boolean; allowMismatch?: boolean; list?: boolean; maxDecompressedBytes?: number; maxCompressionRatio?: number }) => {
      const cacheDir = o.cacheDir ?? defaultCacheDir();
      if (o.list || !name) {
        for (const e of Object.values(CATALOG)) {
          const got = fetchedRecord(e.name, cacheDir);
          process.stdout.write(`${e.name.padEnd(40)} ${got ? '[fetched] ' : ''}${e.description}${e.sha256 ? '' : ' (no published SHA-256)'}\n`);
        }
        return;
      }
      const { dir, record, cached } = await fetchDataset(name, {
        from: o.from,
        cacheDir,
        force: o.force,
        allowMismatch: o.allowMismatch,
        limits: { maxDecompressedBytes: o.maxDecompressedBytes, maxCompressionRatio: o.maxCompressionRatio },
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(`${name}: ${cached ? 'already fetched' : 'fetched'} in ${dir}\n`);
      process.stdout.write(`  sha256 ${record.sha256 ?? '(unpacked folder: nothing to hash)'} — ${record.check}\n`);
      process.stdout.write(`  terms: ${CATALOG[name].terms}\n`);
    });

  addSourceOptions(
    data
      .command('split')
      .description('prepare and split a dataset, writing train.tsv, valid.tsv, test.tsv and split.json')
      .argument('<source>', 'a file or folder, a fetched dataset name, or synthetic'),
  )
    .requiredOption('--out <dir>', 'output folder')
    .option('--split <kind>', 'loo, temporal or ratio', 'loo')
    .option('--quantile <q>', 'temporal: test cut at this time quantile (default 0.9)', num('quantile'))
    .option('--valid-quantile <q>', 'temporal: valid cut (default quantile − 0.1)', num('valid-quantile'))
    .option('--date <iso>', 'temporal: test cut date instead of a quantile')
    .option('--train <f>', 'ratio: train fraction (default 0.8)', num('train'))
    .option('--valid <f>', 'ratio: valid fraction (default 0.1)', num('valid'))
    .option('--order <order>', 'ratio: random or time (default random)')
    .option('--seed <n>', 'ratio: seed (default 0)', int('seed'))
    .action(async (source: string, o: SourceFlags & { out: string; split: string; quantile?: number; validQuantile?: number; date?: string; train?: number; valid?: number; order?: string; seed?: number }, cmd: Command) => {
      const { spec, prep, cacheDir } = specFromFlags(source, o, cmd.getOptionValueSource('header') === 'cli');
      const splitOptions = parseSplit(o);
      const { dataset } = await loadDatasetWithInfo(spec, prep, { cacheDir });
      const split = splitDataset(dataset, splitOptions);
      mkdirSync(o.out, { recursive: true });
      await writeView(join(o.out, 'train.tsv'), dataset, split.train);
      await writeView(join(o.out, 'valid.tsv'), dataset, split.valid);
      await writeView(join(o.out, 'test.tsv'), dataset, split.test);
      const count = (v: Interactions): number => v.offsets[v.nUsers];
      const meta = {
        kind: 'reclab-split',
        version: 1,
        dataset: { name: dataset.name, fingerprint: dataset.fingerprint, provenance: dataset.provenance, users: dataset.nUsers, items: dataset.nItems, hasTime: dataset.hasTime },
        protocol: split.protocol,
        counts: { train: count(split.train), valid: count(split.valid), test: count(split.test) },
        files: { train: 'train.tsv', valid: 'valid.tsv', test: 'test.tsv' },
        columns: split.train.values ? ['user', 'item', 'timestamp', 'rating'] : ['user', 'item', 'timestamp'],
        note: 'Raw ids as in the source; each user’s rows are in time order. timestamp is seconds since the epoch, or the event ordinal when hasTime is false.',
      };
      writeFileSync(join(o.out, 'split.json'), `${JSON.stringify(meta, null, 2)}\n`);
      process.stdout.write(`${split.protocol.description}\ntrain ${meta.counts.train}, valid ${meta.counts.valid}, test ${meta.counts.test} → ${o.out}\n`);
    });
}
