/**
 * `npm run bench -- data-bounds`: how fast and in how little memory `reclab data describe`
 * refuses input it must not read (issue 15, must-show 7). Builds in a temp folder:
 *
 * - `zeros.bin`: 2 GiB of NUL bytes (`head -c 2G /dev/zero`), stopped by the NUL check;
 * - `zeros.txt`: 2 GiB of ASCII `0` and no line break, stopped by `maxLineBytes`;
 * - `zeros.gz`: 4 GiB of NUL bytes gzipped (≈ 4 MB on disk), a gzip bomb;
 * - `lines-<format>.gz`: 4 GiB of one valid line of that format repeated, gzipped (≈ 4 MB): a
 *   bomb no line check can see, which only `maxCompressionRatio` stops;
 *
 * and runs `node bin/reclab.js data describe <file> --format <fmt> --no-cache` on them (the
 * first three with every format, each bomb of lines with its own), each as a child process,
 * printing per run the wall seconds, the peak RSS (from `/usr/bin/time -v` when present, else
 * /proc/<pid>/status VmHWM polled) and the first line of the error. Goals: ≤ 30 s and < 1 GiB
 * RSS per run, stopped by a named bound. The files are deleted afterwards. `--keep` keeps them;
 * `--formats a,b` picks formats.
 */
import { spawn } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { emit } from './_util.ts';

const args = process.argv.slice(2);
const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const GiB = 2 ** 30;
const BLOCK = 16 << 20;
const GOAL_S = 30;
const GOAL_RSS_MB = 1024;
const option = (name: string): string | undefined => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 ? args[k + 1] : undefined;
};

/** Writes `bytes` bytes of `fill` to `path`. */
function writeFilled(path: string, bytes: number, fill: number): void {
  const block = Buffer.alloc(BLOCK, fill);
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < bytes; done += BLOCK) writeSync(fd, block, 0, Math.min(BLOCK, bytes - done));
  } finally {
    closeSync(fd);
  }
}

/** Writes `bytes` bytes made of `pattern` repeated, gzipped at level 9 as one gzip member. */
async function writeGzipped(path: string, bytes: number, pattern: string | number): Promise<void> {
  const block = Buffer.alloc(BLOCK, pattern);
  async function* source(): AsyncGenerator<Buffer> {
    for (let done = 0; done < bytes; done += BLOCK) yield block;
  }
  await pipeline(Readable.from(source()), createGzip({ level: 9 }), createWriteStream(path));
}

interface Run {
  seconds: number;
  peakRssMb: number;
  exitCode: number | null;
  stderr: string;
  rssFrom: string;
}

const TIME = '/usr/bin/time';

/** Runs `node bin/reclab.js …` as a child, measuring wall time and peak RSS. */
function measure(cliArgs: string[]): Promise<Run> {
  const useTime = existsSync(TIME);
  const node = [join(root, 'bin', 'reclab.js'), ...cliArgs];
  const [cmd, argv] = useTime ? [TIME, ['-v', process.execPath, ...node]] : [process.execPath, node];
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    // Without /usr/bin/time: the child's high-water mark, read until it exits.
    let hwmKb = 0;
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
          } catch {
            // Gone already.
          }
        }, 20);
    child.on('error', fail);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let peakKb = hwmKb;
      let exitCode = code;
      if (useTime) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        peakKb = m ? Number(m[1]) : NaN;
        const status = /Exit status: (\d+)/.exec(stderr);
        if (status) exitCode = Number(status[1]);
        stderr = stderr.slice(0, stderr.search(/\n?\s*Command (being timed|exited)/) >>> 0);
      }
      done({ seconds, peakRssMb: peakKb / 1024, exitCode, stderr, rssFrom: useTime ? 'time -v' : 'VmHWM' });
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-bounds-'));
  const formats = (option('formats') ?? 'auto,sasrec,csv,tsv,jsonl,ml-1m,amazon').split(',');
  try {
    const files: { name: string; what: string; make: (p: string) => void | Promise<void>; decompressedGb: number; formats: string[] }[] = [
      { name: 'zeros.bin', what: '2 GiB of NUL bytes', make: (p) => writeFilled(p, 2 * GiB, 0), decompressedGb: 2, formats },
      { name: 'zeros.txt', what: "2 GiB of '0', no line break", make: (p) => writeFilled(p, 2 * GiB, 0x30), decompressedGb: 2, formats },
      { name: 'zeros.gz', what: '4 GiB of NUL bytes, gzipped', make: (p) => writeGzipped(p, 4 * GiB, 0), decompressedGb: 4, formats },
    ];
    // One valid line per format, padded to a power of two so 16 MiB blocks hold whole lines.
    const validLines: Record<string, string> = {
      sasrec: '1 1\n',
      csv: '1,1\n',
      tsv: '1\t1\n',
      jsonl: '{"user_id":1,"item_id":1}      \n',
      'ml-1m': '1::1::5::100000\n',
      amazon: '{"reviewerID":"A","asin":"B","overall":5,"unixReviewTime":1}   \n',
    };
    for (const [format, line] of Object.entries(validLines)) {
      if (!formats.includes(format)) continue;
      if (BLOCK % Buffer.byteLength(line) !== 0) throw new Error(`bench data-bounds: the ${format} line must divide ${BLOCK} bytes`);
      const fmts = format === 'sasrec' && formats.includes('auto') ? ['auto', 'sasrec'] : [format];
      files.push({ name: `lines-${format}.gz`, what: `4 GiB of ${JSON.stringify(line.trim())} lines, gzipped`, make: (p) => writeGzipped(p, 4 * GiB, line), decompressedGb: 4, formats: fmts });
    }
    for (const f of files) {
      const path = join(dir, f.name);
      const t0 = performance.now();
      await f.make(path);
      process.stderr.write(`bench data-bounds: wrote ${path} (${f.what}, ${(statSync(path).size / 1e6).toFixed(1)} MB on disk) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      for (const format of f.formats) {
        const r = await measure(['data', 'describe', path, '--format', format, '--no-cache']);
        const error = r.stderr.split('\n')[0] ?? '';
        const bound = /\((maxLineBytes|maxDecompressedBytes|maxCompressionRatio)\b/.exec(error)?.[1] ?? (/NUL byte/.test(error) ? 'NUL byte' : null);
        emit('data-bounds', `${f.name}:${format}`, {
          seconds: Number(r.seconds.toFixed(2)),
          peak_rss_mb: Math.round(r.peakRssMb),
          exit_code: r.exitCode,
          stopped_by: bound,
          within_goals: r.exitCode === 1 && bound !== null && r.seconds <= GOAL_S && r.peakRssMb < GOAL_RSS_MB,
          file_mb: Number((statSync(path).size / 1e6).toFixed(1)),
          content_gib: f.decompressedGb,
          load_avg_1m: Number(loadavg()[0].toFixed(2)),
          rss_from: r.rssFrom,
          goal_s: GOAL_S,
          goal_rss_mb: GOAL_RSS_MB,
          error,
        });
      }
      if (!args.includes('--keep')) rmSync(path, { force: true });
    }
  } finally {
    if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`bench data-bounds: kept ${dir}\n`);
  }
}

await main();
