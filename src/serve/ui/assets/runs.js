// Runs: every result, trace and report under the dashboard's folders; a result's table with its
// protocol lines and significance; per-epoch curves of two or more runs overlaid; a config diff.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { get } from './api.js';
import { LineChart, alignSeries } from './charts.js';

function Table({ table }) {
  return html`<table class="results">
      <thead><tr>${table.header.map((h) => html`<th>${h}</th>`)}</tr></thead>
      <tbody>${table.rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody>
    </table>
    ${(table.notes ?? []).map((n) => html`<p class="note">${n}</p>`)}`;
}

function Result({ id }) {
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setView(null);
    get('result', { id }).then(setView, setError);
  }, [id]);
  if (error) return html`<p class="error">${error.message}</p>`;
  if (!view) return html`<p class="muted">loading…</p>`;
  return html`<section class="card">
    <h3>${view.name} <small>(${view.task}${view.startedAt ? `, ${view.startedAt}` : ''})</small></h3>
    <${Table} table=${view.table} />
    ${view.models.length ? html`<p>Saved models: ${view.models.map((m) => html`<code>${m}</code> `)}</p>` : null}
  </section>`;
}

function Curves({ ids }) {
  const [curves, setCurves] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setCurves(null);
    if (ids.length) get('curves', { ids: ids.join(',') }).then(setCurves, setError);
  }, [ids.join(',')]);
  if (!ids.length) return html`<p class="muted">Tick traces or results in the list to overlay their curves.</p>`;
  if (error) return html`<p class="error">${error.message}</p>`;
  if (!curves) return html`<p class="muted">loading…</p>`;
  if (!curves.length) return html`<p class="muted">The selected files have no per-epoch curves.</p>`;
  const loss = alignSeries(curves, 'loss');
  const valid = alignSeries(curves, 'valid');
  const metric = [...new Set(curves.map((c) => c.metric))].join(' / ');
  return html`<div class="charts">
    <${LineChart} name="runs-loss" title="training loss" xLabel="epoch" yLabel="loss" x=${loss.x} series=${loss.series} />
    <${LineChart} name="runs-valid" title=${`validation ${metric}`} xLabel="epoch" yLabel=${metric} x=${valid.x} series=${valid.series} />
  </div>`;
}

function Diff({ results }) {
  const [a, setA] = useState(results[0]?.id ?? '');
  const [b, setB] = useState(results[1]?.id ?? '');
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setRows(null);
    if (a && b) get('diff', { a, b }).then(setRows, setError);
  }, [a, b]);
  if (results.length < 2) return html`<p class="muted">Two results are needed for a config diff.</p>`;
  const pick = (value, set, label) =>
    html`<select aria-label=${label} value=${value} onChange=${(e) => set(e.currentTarget.value)}>${results.map((r) => html`<option value=${r.id}>${r.path}</option>`)}</select>`;
  return html`<div>
    ${pick(a, setA, 'first result')} vs ${pick(b, setB, 'second result')}
    ${error ? html`<p class="error">${error.message}</p>` : null}
    ${rows
      ? rows.length
        ? html`<table class="diff"><thead><tr><th>key</th><th>first</th><th>second</th></tr></thead>
            <tbody>${rows.map((r) => html`<tr><td><code>${r.key}</code></td><td>${r.a ?? '—'}</td><td>${r.b ?? '—'}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">Same configuration.</p>`
      : null}
  </div>`;
}

export function RunsPage() {
  const [catalog, setCatalog] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState([]);
  const [shown, setShown] = useState(null);
  useEffect(() => {
    get('catalog').then((c) => {
      setCatalog(c);
      setShown(c.find((e) => e.kind === 'result')?.id ?? null);
    }, setError);
  }, []);
  if (error) return html`<p class="error">${error.message}</p>`;
  if (!catalog) return html`<p class="muted">loading…</p>`;
  const runs = catalog.filter((e) => e.kind === 'result' || e.kind === 'trace');
  const results = catalog.filter((e) => e.kind === 'result');
  const toggle = (id) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  return html`<h2>Runs</h2>
    <section class="card">
      <table class="catalog">
        <thead><tr><th>overlay</th><th>kind</th><th>file</th><th>folder</th><th>changed</th><th></th></tr></thead>
        <tbody>
          ${runs.map(
            (e) => html`<tr>
              <td><input type="checkbox" data-id=${e.id} aria-label=${`overlay ${e.path}`} checked=${selected.includes(e.id)} onChange=${() => toggle(e.id)} /></td>
              <td>${e.kind}</td><td><code>${e.path}</code></td><td>${e.root}</td><td>${new Date(e.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ')}</td>
              <td>${e.kind === 'result' ? html`<button onClick=${() => setShown(e.id)}>table</button>` : null}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${runs.length ? null : html`<p class="muted">No results or traces under ${catalog.length ? 'these folders' : 'the folders given'} yet: run <code>reclab run</code>.</p>`}
    </section>
    <section class="card"><h3>Curves</h3><${Curves} ids=${selected} /></section>
    ${shown ? html`<${Result} id=${shown} />` : null}
    <section class="card"><h3>Config diff</h3><${Diff} results=${results} /></section>`;
}
