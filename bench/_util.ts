/** Helpers shared by benchmark scripts: timing medians and the JSON-line output format. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

/** Absolute path of `../shared` beside the checkout (or $RECLAB_SHARED). */
export const SHARED = resolve(process.env.RECLAB_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'));

/** True when the shared datasets folder is present. */
export function hasShared(): boolean {
  return existsSync(join(SHARED, 'datasets'));
}

/** The value after `--name` on the command line, or `fallback` when absent. */
export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Prints one benchmark record as a JSON line on stdout. */
export function emit(bench: string, caseName: string, figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench, case: caseName, ...figures })}\n`);
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn` `warmup` times untimed, then `runs` times, returning each run's wall time in seconds. */
export async function timeRuns(fn: () => unknown | Promise<unknown>, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return times;
}
