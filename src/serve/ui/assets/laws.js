// Laws: a fitted SR law with its points and LOCO errors, and the calculators, computed by the
// server with the code of `reclab law` (nothing re-implemented here).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { get } from './api.js';

const f = (x, d = 4) => (typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(d))) : '—');

function Field({ label, name, value, set }) {
  return html`<label>${label} <input name=${name} type="number" step="any" value=${value} onInput=${(e) => set(e.currentTarget.value)} /></label>`;
}

/** LLM law calculator; defaults: Llama 3 8B (the law's test vector, 65.45). */
function LlmCalculator() {
  const [v, setV] = useState({ layers: '32', hidden: '4096', ffn: '14336', tokens: '15', params: '8.03' });
  const [out, setOut] = useState(null);
  const [error, setError] = useState(null);
  const set = (k) => (x) => setV({ ...v, [k]: x });
  const compute = (e) => {
    e?.preventDefault();
    get('laws/llm', v).then(
      (r) => {
        setOut(r);
        setError(null);
      },
      (err) => {
        setOut(null);
        setError(err);
      },
    );
  };
  return html`<form class="card calc" id="llm-law" onSubmit=${compute}>
    <h3>LLM law: predicted MMLU</h3>
    <${Field} label="layers N" name="layers" value=${v.layers} set=${set('layers')} />
    <${Field} label="hidden h" name="hidden" value=${v.hidden} set=${set('hidden')} />
    <${Field} label="FFN d" name="ffn" value=${v.ffn} set=${set('ffn')} />
    <${Field} label="tokens T (trillions)" name="tokens" value=${v.tokens} set=${set('tokens')} />
    <${Field} label="params S (billions)" name="params" value=${v.params} set=${set('params')} />
    <button type="submit">Predict</button>
    ${error ? html`<p class="error">${error.message}</p>` : null}
    ${out ? html`<p class="answer">MMLU <output id="llm-mmlu">${out.mmlu.toFixed(2)}</output> % <small>(raw ${f(out.mmluRaw)}, θ ${f(out.theta)}, T′ ${f(out.effectiveTokensT)} T)</small></p>` : null}
  </form>`;
}

function SrLaw({ fits }) {
  const [id, setId] = useState(fits[0].id);
  const [fit, setFit] = useState(null);
  const [v, setV] = useState({ layers: '2', hidden: '64', D: '' });
  const [out, setOut] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setFit(null);
    get('laws/fit', { id }).then(setFit, setError);
  }, [id]);
  const compute = (e) => {
    e.preventDefault();
    get('laws/sr', { id, ...v }).then(
      (r) => {
        setOut(r);
        setError(null);
      },
      setError,
    );
  };
  return html`<section class="card">
    <h3>SR law fit</h3>
    <select aria-label="law fit" value=${id} onChange=${(e) => setId(e.currentTarget.value)}>${fits.map((x) => html`<option value=${x.id}>${x.path}</option>`)}</select>
    ${fit
      ? html`<p>${fit.metric}: R² ${f(fit.r2)}, RMSE ${f(fit.rmse)}, ${fit.n} points; groups ${Object.entries(fit.groups).map(([g, D]) => `${g} (D ${f(D)})`).join(', ')}</p>
          ${fit.notes.map((n) => html`<p class="note">${n}</p>`)}
          <table><thead><tr><th>group</th><th>layers</th><th>hidden</th><th>observed</th><th>law</th></tr></thead>
            <tbody>${fit.points.map((p) => html`<tr><td>${p.group ?? ''}</td><td>${p.layers}</td><td>${p.hidden}</td><td>${f(p.y)}</td><td>${f(p.law)}</td></tr>`)}</tbody></table>
          ${fit.loco ? html`<p>Leave-one-configuration-out: median APE ${f(fit.loco.medianApePct, 3)} %, mean ${f(fit.loco.meanApePct, 3)} %, max ${f(fit.loco.maxApePct, 3)} %</p>` : html`<p class="muted">No LOCO validation in this fit (reclab law fit --loco).</p>`}
          <form class="calc" onSubmit=${compute}>
            <${Field} label="layers" name="layers" value=${v.layers} set=${(x) => setV({ ...v, layers: x })} />
            <${Field} label="hidden" name="hidden" value=${v.hidden} set=${(x) => setV({ ...v, hidden: x })} />
            <${Field} label="D (blank: the fit's)" name="D" value=${v.D} set=${(x) => setV({ ...v, D: x })} />
            <button type="submit">Predict ${fit.metric}</button>
          </form>
          ${out ? html`<p class="answer">${fit.metric} ≈ <output id="sr-value">${f(out.value)}</output> ${out.warnings.map((w) => html`<br /><small class="warn">${w}</small>`)}</p>` : null}`
      : null}
    ${error ? html`<p class="error">${error.message}</p>` : null}
  </section>`;
}

export function LawsPage() {
  const [fits, setFits] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get('catalog').then((c) => setFits(c.filter((e) => e.kind === 'law-fit')), setError);
  }, []);
  return html`<h2>Laws</h2>
    <${LlmCalculator} />
    ${error ? html`<p class="error">${error.message}</p>` : null}
    ${fits ? (fits.length ? html`<${SrLaw} fits=${fits} />` : html`<p class="muted">No law fit yet (reclab law fit --out).</p>`) : null}`;
}
