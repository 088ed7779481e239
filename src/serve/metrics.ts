/**
 * Prometheus metrics in the text exposition format (version 0.0.4): counters and one latency
 * histogram, enough for dashboards and alerts on request rate, errors, latency and feedback volume.
 * Small on purpose: a label set is a sorted key string, values live in plain Maps.
 */

/** Upper bounds (seconds) of the request-latency histogram buckets. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

/** A monotonically increasing counter with labels. */
export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  /** Adds `n` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, n = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }

  /** Current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }

  /** Exposition lines. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

/** A cumulative histogram with labels. */
export class Histogram {
  private readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly bounds: readonly number[] = LATENCY_BUCKETS) {}

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { buckets: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let b = 0; b < this.bounds.length; b++) if (value <= this.bounds[b]) s.buckets[b]++;
    s.sum += value;
    s.count++;
  }

  /** Exposition lines (buckets are cumulative, as Prometheus expects). */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      for (let b = 0; b < this.bounds.length; b++) lines.push(`${this.name}_bucket{${sep}le="${this.bounds[b]}"} ${s.buckets[b]}`);
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** The service's metrics. */
export class ServeMetrics {
  readonly requests = new Counter('reclab_http_requests_total', 'HTTP requests by route, method and status code');
  readonly latency = new Histogram('reclab_http_request_duration_seconds', 'HTTP request latency by route');
  readonly feedback = new Counter('reclab_feedback_events_total', 'Feedback events acknowledged (committed)');
  readonly answers = new Counter('reclab_recommendations_total', 'Ranked answers by strategy (model, popular, latest)');
  readonly swaps = new Counter('reclab_model_swaps_total', 'Served-model loads and swaps by outcome');
  readonly errors = new Counter('reclab_internal_errors_total', 'Requests that failed with a 5xx other than 503, by route (each one is a bug)');

  /** The whole exposition, plus process gauges. */
  render(): string {
    const mem = process.memoryUsage();
    const gauges = [
      '# HELP reclab_process_resident_memory_bytes Resident set size',
      '# TYPE reclab_process_resident_memory_bytes gauge',
      `reclab_process_resident_memory_bytes ${mem.rss}`,
      '# HELP reclab_process_uptime_seconds Seconds since the process started',
      '# TYPE reclab_process_uptime_seconds gauge',
      `reclab_process_uptime_seconds ${process.uptime()}`,
    ];
    return [this.requests, this.latency, this.feedback, this.answers, this.swaps, this.errors].map((m) => m.render()).concat(gauges).join('\n') + '\n';
  }
}
