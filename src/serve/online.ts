/**
 * Online metrics: how often recommended items get positive feedback, per model version and per
 * strategy (model, popular, latest — exploration items count under their own strategy).
 *
 * An item is *exposed* when it was recommended to a user and then shown: written back with the
 * answer (`write-back-type`), or read feedback on it arrived later. A positive event of that user
 * on that item within `window` seconds of the recommendation is a *hit*; the rate is hits /
 * exposures, as Gorse's positive-feedback ratio. A click on a recommended item that was never
 * marked read is both exposed and hit (it was clearly shown).
 *
 * Kept in this process's memory, bounded (the oldest recommendations are forgotten first); with
 * `--workers n` each worker counts its own requests.
 */
import type { Answer, FeedbackKind, Strategy } from './engine.ts';
import type { FeedbackEvent } from './store.ts';

/** One (model version, strategy) row of the figures. */
export interface OnlineRow {
  model: string;
  version: string;
  strategy: Strategy;
  exposed: number;
  positive: number;
  /** positive / exposed (0 when nothing was exposed). */
  rate: number;
}

interface Recommended {
  group: string;
  time: number;
  exposed: boolean;
  hit: boolean;
}

/** Counts exposures and hits of recommended items. */
export class OnlineMetrics {
  /** Recommended (user, item) pairs, oldest first (Map order), at most `capacity`. */
  private readonly recent = new Map<string, Recommended>();
  private readonly groups = new Map<string, { model: string; version: string; strategy: Strategy; exposed: number; positive: number }>();

  constructor(
    private readonly kind: (type: string) => FeedbackKind,
    /** Seconds after a recommendation within which a positive event counts as its hit. */
    readonly window = 3600,
    private readonly capacity = 200_000,
  ) {}

  /** Records an answer given to `user`; `shown` when it was written back (exposed now). */
  served(user: string, answer: Answer, shown = false, now = Date.now() / 1000): void {
    const model = answer.model?.name ?? 'none';
    const version = answer.model?.version ?? 'none';
    for (const s of answer.items) {
      const strategy = s.from ?? answer.strategy;
      const group = `${model}\u0000${version}\u0000${strategy}`;
      if (!this.groups.has(group)) this.groups.set(group, { model, version, strategy, exposed: 0, positive: 0 });
      const key = `${user}\u0000${s.id}`;
      this.recent.delete(key); // re-recommended: the latest recommendation owns the pair
      const r: Recommended = { group, time: now, exposed: false, hit: false };
      this.recent.set(key, r);
      if (shown) this.expose(r);
    }
    while (this.recent.size > this.capacity) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Takes acknowledged feedback into account: read events expose, positive events hit. */
  feedback(events: readonly FeedbackEvent[]): void {
    for (const e of events) {
      const r = this.recent.get(`${e.user}\u0000${e.item}`);
      if (!r) continue;
      const kind = this.kind(e.type);
      if (kind === 'read') this.expose(r);
      else if (kind === 'positive' && !r.hit && e.time >= r.time - 1 && e.time - r.time <= this.window) {
        this.expose(r);
        r.hit = true;
        this.groups.get(r.group)!.positive++;
      }
    }
  }

  private expose(r: Recommended): void {
    if (r.exposed) return;
    r.exposed = true;
    this.groups.get(r.group)!.exposed++;
  }

  /** The figures, one row per (model version, strategy). */
  rows(): OnlineRow[] {
    return [...this.groups.values()].map((g) => ({ ...g, rate: g.exposed > 0 ? g.positive / g.exposed : 0 }));
  }

  /** Prometheus text of the figures. */
  render(): string {
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines = [
      '# HELP reclab_online_exposed_total Recommended items shown (written back or read), by model version and strategy',
      '# TYPE reclab_online_exposed_total counter',
    ];
    const rows = this.rows();
    const label = (r: OnlineRow) => `{model="${esc(r.model)}",version="${esc(r.version)}",strategy="${r.strategy}"}`;
    for (const r of rows) lines.push(`reclab_online_exposed_total${label(r)} ${r.exposed}`);
    lines.push('# HELP reclab_online_positive_total Shown items that got positive feedback within the window', '# TYPE reclab_online_positive_total counter');
    for (const r of rows) lines.push(`reclab_online_positive_total${label(r)} ${r.positive}`);
    lines.push('# HELP reclab_online_positive_rate Positive feedback per shown item', '# TYPE reclab_online_positive_rate gauge');
    for (const r of rows) lines.push(`reclab_online_positive_rate${label(r)} ${r.rate}`);
    return `${lines.join('\n')}\n`;
  }
}
