// Service (under `reclab serve --ui`): request rate and latency percentiles from /metrics, the
// online positive-feedback rate from /metrics/online, the served model and a swap button
// (PUT /api/model), and the newest feedback — all read from the service's own routes.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { service } from './api.js';

/** Sums of the request counter and the merged latency histogram from the Prometheus text. */
export function parseMetrics(text) {
  let requests = 0;
  let feedback = 0;
  const buckets = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m) continue;
    const [, name, labels = '', value] = m;
    if (name === 'reclab_http_requests_total') requests += Number(value);
    else if (name === 'reclab_feedback_events_total') feedback += Number(value);
    else if (name === 'reclab_http_request_duration_seconds_bucket') {
      const le = /le="([^"]+)"/.exec(labels)?.[1];
      const bound = le === '+Inf' ? Infinity : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + Number(value));
    }
  }
  return { requests, feedback, buckets: [...buckets].sort((a, b) => a[0] - b[0]) };
}

/** A percentile from cumulative buckets, linear inside the bucket (as Prometheus' histogram_quantile). */
export function percentile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / Math.max(count - prevCount, 1e-12);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

export function ServicePage({ config }) {
  const [snap, setSnap] = useState(null);
  const [error, setError] = useState(null);
  const [name, setName] = useState('');
  const [admin, setAdmin] = useState('');
  const [swapStatus, setSwapStatus] = useState('');
  const last = useRef(null);
  useEffect(() => {
    if (!config.service) return;
    let stop = false;
    const tick = async () => {
      try {
        const [model, metrics, online] = await Promise.all([
          service('/api/model').then((r) => r.json()),
          service('/metrics').then((r) => r.text()),
          service('/metrics/online').then((r) => r.json()),
        ]);
        const m = parseMetrics(metrics);
        const now = performance.now();
        const prev = last.current;
        last.current = { at: now, requests: m.requests, feedback: m.feedback };
        const rate = prev ? ((m.requests - prev.requests) * 1000) / (now - prev.at) : NaN;
        const feedbackRate = prev ? ((m.feedback - prev.feedback) * 1000) / (now - prev.at) : NaN;
        const feed = await service('/api/feedback?n=10').then((r) => r.json());
        if (!stop) setSnap({ model, m, online, rate, feedbackRate, feed: feed.Feedback ?? [] });
      } catch (e) {
        if (!stop) setError(e);
      }
      if (!stop) setTimeout(tick, 2000);
    };
    tick();
    return () => {
      stop = true;
    };
  }, [config.service]);
  if (!config.service) return html`<h2>Service</h2><p class="muted">This dashboard runs without a service. Start <code>reclab serve --ui</code> to see live traffic here.</p>`;
  const swap = async (e) => {
    e.preventDefault();
    try {
      const r = await service('/api/model', { method: 'PUT', body: JSON.stringify(name ? { Name: name } : {}) }, admin);
      const s = await r.json();
      setSwapStatus(`serving ${s.Name} (${s.Version})`);
    } catch (err) {
      setSwapStatus(`not swapped: ${err.message}`);
    }
  };
  const ms = (s) => (Number.isFinite(s) ? `${(1000 * s).toFixed(1)} ms` : '—');
  return html`<h2>Service</h2>
    ${error ? html`<p class="error">${error.message}</p>` : null}
    ${snap
      ? html`<section class="card stats"><dl>
            <dt>requests</dt><dd>${snap.m.requests} (${Number.isFinite(snap.rate) ? snap.rate.toFixed(1) : '—'} /s)</dd>
            <dt>latency p50 / p90 / p99</dt><dd>${ms(percentile(snap.m.buckets, 0.5))} / ${ms(percentile(snap.m.buckets, 0.9))} / ${ms(percentile(snap.m.buckets, 0.99))}</dd>
            <dt>feedback events</dt><dd>${snap.m.feedback} (${Number.isFinite(snap.feedbackRate) ? snap.feedbackRate.toFixed(1) : '—'} /s)</dd>
            <dt>served model</dt><dd>${snap.model.Name ?? '—'} <small>${snap.model.Version ?? ''}</small>, ${snap.model.Users} users, ${snap.model.Items} items, ${snap.model.Swaps} swaps</dd>
          </dl></section>
          <section class="card"><h3>Online positive-feedback rate</h3>
            <table><thead><tr><th>model</th><th>version</th><th>strategy</th><th>exposed</th><th>positive</th><th>rate</th></tr></thead>
              <tbody>${snap.online.Rows.map((r) => html`<tr><td>${r.Model}</td><td>${r.Version}</td><td>${r.Strategy}</td><td>${r.Exposed}</td><td>${r.Positive}</td><td>${(100 * r.Rate).toFixed(2)} %</td></tr>`)}</tbody></table>
            <p class="note">A positive event within ${snap.online.WindowSeconds} s of a recommendation of that item counts as its hit.</p>
          </section>
          <form class="card calc" onSubmit=${swap}><h3>Swap model</h3>
            <select aria-label="bundle" value=${name} onChange=${(e) => setName(e.currentTarget.value)}><option value="">CURRENT / newest</option>${snap.model.Available.map((a) => html`<option value=${a}>${a}</option>`)}</select>
            <label>admin key <input type="password" value=${admin} onInput=${(e) => setAdmin(e.currentTarget.value)} /></label>
            <button type="submit">Swap</button> <span>${swapStatus}</span>
          </form>
          <section class="card"><h3>Feedback (first page of the log)</h3>
            <table><thead><tr><th>type</th><th>user</th><th>item</th><th>time</th></tr></thead>
              <tbody>${snap.feed.map((x) => html`<tr><td>${x.FeedbackType}</td><td>${x.UserId}</td><td>${x.ItemId}</td><td>${x.Timestamp}</td></tr>`)}</tbody></table>
          </section>`
      : html`<p class="muted">loading…</p>`}`;
}
