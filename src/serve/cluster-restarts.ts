/**
 * When the cluster primary replaces a worker that died, and when it stops trying.
 *
 * A worker that dies young (lived less than `stableMs`) is a *rapid failure*: the replacement
 * waits `baseMs`, doubling with each rapid failure in a row up to `maxMs`, so a worker that cannot
 * start (store locked, model missing) does not spin the CPU. After `maxRapidFailures` in a row the
 * primary gives up — stops the other workers and exits non-zero — so a supervisor above it
 * (systemd, Kubernetes) sees the failure instead of a service that limps along. A worker that
 * lived `stableMs` or longer resets the count: its death is an incident, not a crash loop, and it
 * is replaced after `baseMs`.
 */

/** Settings of {@link RestartPolicy}. */
export interface RestartOptions {
  /** Delay before the first replacement, in ms. */
  baseMs: number;
  /** Largest delay between replacements, in ms. */
  maxMs: number;
  /** A worker that lived this long (ms) was healthy; its death resets the count. */
  stableMs: number;
  /** Rapid failures in a row after which the cluster gives up. */
  maxRapidFailures: number;
}

/** Defaults: replace at once-ish, give up after 5 young deaths in a row (≈ 3 s of backoff plus start times). */
export const RESTART_DEFAULTS: RestartOptions = { baseMs: 100, maxMs: 10_000, stableMs: 30_000, maxRapidFailures: 5 };

/** Counts rapid failures and decides the delay before each replacement. */
export class RestartPolicy {
  readonly options: RestartOptions;
  private rapid = 0;

  constructor(options: Partial<RestartOptions> = {}) {
    this.options = { ...RESTART_DEFAULTS, ...options };
  }

  /** Rapid failures in a row so far. */
  get rapidFailures(): number {
    return this.rapid;
  }

  /**
   * Records the death of a worker that lived `livedMs`; returns the delay (ms) before its
   * replacement starts, or undefined when the cluster should give up.
   */
  onDeath(livedMs: number): number | undefined {
    const { baseMs, maxMs, stableMs, maxRapidFailures } = this.options;
    if (livedMs >= stableMs) {
      this.rapid = 0;
      return baseMs;
    }
    this.rapid++;
    if (this.rapid >= maxRapidFailures) return undefined;
    return Math.min(maxMs, baseMs * 2 ** (this.rapid - 1));
  }
}
