/**
 * Progress bars with ETA for long work (training epochs, evaluation, sweeps, downloads).
 * Draws on stderr only when it is a terminal (or when forced), so logs and CI output stay clean.
 */
import cliProgress from 'cli-progress';

/** A running progress bar. */
export interface Progress {
  /** Advances by `n` units (default 1), optionally updating the trailing text. */
  tick(n?: number, text?: string): void;
  /** Finishes and removes the bar. */
  stop(): void;
}

/** Options for {@link progress}. */
export interface ProgressOptions {
  /** Force drawing on (true) or off (false); default: when stderr is a TTY. */
  enabled?: boolean;
  /** Unit label shown after the counts, e.g. `steps`, `users`. */
  unit?: string;
}

/** Starts a bar titled `title` for `total` units. Returns a no-op when drawing is off. */
export function progress(title: string, total: number, options: ProgressOptions = {}): Progress {
  const enabled = options.enabled ?? Boolean(process.stderr.isTTY);
  if (!enabled) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {value}/{total} ${options.unit ?? ''} | {percentage}% | ETA {eta_formatted} | {text}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { text: '' });
  let value = 0;
  return {
    tick(n = 1, text?: string) {
      value += n;
      bar.update(value, text === undefined ? undefined : { text });
    },
    stop() {
      bar.stop();
    },
  };
}
