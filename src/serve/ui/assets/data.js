// Data: describeDataset of a configured dataset — the popularity long tail (log-log), the
// histogram of sequence lengths, ApEn, Gini and the split sizes.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { get } from './api.js';
import { LineChart } from './charts.js';

const f = (x, d = 4) => (typeof x === 'number' ? Number(x.toPrecision(d)).toLocaleString('en') : String(x));

export function DataPage({ config }) {
  const [name, setName] = useState(config.datasets[0] ?? '');
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setView(null);
    setError(null);
    if (name) get('data', { name }).then(setView, setError);
  }, [name]);
  if (!config.datasets.length) return html`<h2>Data</h2><p class="muted">No dataset configured: start with <code>reclab ui --data name=source</code>.</p>`;
  const s = view?.stats;
  return html`<h2>Data</h2>
    <select aria-label="dataset" value=${name} onChange=${(e) => setName(e.currentTarget.value)}>${config.datasets.map((d) => html`<option value=${d}>${d}</option>`)}</select>
    ${error ? html`<p class="error">${error.message}</p>` : null}
    ${!view && !error ? html`<p class="muted">describing… (the first time loads the dataset)</p>` : null}
    ${view
      ? html`<section class="card stats">
            <h3>${view.name}</h3>
            <dl>
              <dt>users</dt><dd>${f(s.users)}</dd><dt>items</dt><dd>${f(s.items)}</dd><dt>interactions</dt><dd>${f(s.interactions)}</dd>
              <dt>density</dt><dd>${f(s.density, 3)}</dd><dt>Gini (item popularity)</dt><dd>${f(s.giniPopularity, 3)}</dd>
              <dt>long-tail share</dt><dd>${f(s.longTailShare, 3)}</dd><dt>ApEn</dt><dd>${f(s.apen, 3)}</dd>
              <dt>sequence length</dt><dd>min ${s.seqLen.min}, median ${s.seqLen.median}, mean ${f(s.seqLen.mean, 3)}, max ${s.seqLen.max}</dd>
              <dt>split</dt><dd>${view.split.protocol}: train ${f(view.split.train)}, valid ${f(view.split.valid)}, test ${f(view.split.test)}</dd>
            </dl>
          </section>
          <section class="card charts">
            <${LineChart} name="data-longtail" title="item popularity by rank (log-log)" xLabel="rank" yLabel="interactions" log="xy" x=${view.longTail.rank} series=${[{ name: 'items', y: view.longTail.count }]} />
            <${LineChart} name="data-seqlen" title="users by sequence length" xLabel="sequence length (bin start)" yLabel="users" bars=${true} x=${view.seqHist.lo} series=${[{ name: 'users', y: view.seqHist.users }]} />
          </section>`
      : null}`;
}
