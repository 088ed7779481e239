// The dashboard shell: a navigation bar, hash routes (#/runs, #/data, #/laws, #/arena,
// #/service), and the API-key form shown when a data route refuses the request.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { AuthError, get, setApiKey } from './api.js';
import { RunsPage } from './runs.js';
import { DataPage } from './data.js';
import { LawsPage } from './laws.js';
import { ArenaPage } from './arena.js';
import { ServicePage } from './service.js';

const PAGES = [
  ['runs', 'Runs', RunsPage],
  ['data', 'Data', DataPage],
  ['laws', 'Laws', LawsPage],
  ['arena', 'Arena', ArenaPage],
  ['service', 'Service', ServicePage],
];

const route = () => {
  const name = location.hash.replace(/^#\/?/, '').split('?')[0];
  return PAGES.some(([n]) => n === name) ? name : 'runs';
};

function KeyForm({ onKey }) {
  const [key, setKey] = useState('');
  return html`<form class="card keyform" onSubmit=${(e) => {
    e.preventDefault();
    setApiKey(key);
    onKey();
  }}>
    <p>This dashboard is behind an API key. Enter it (kept for this browser tab only).</p>
    <input type="password" name="key" aria-label="API key" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} />
    <button type="submit">Open</button>
  </form>`;
}

function App() {
  const [page, setPage] = useState(route());
  const [config, setConfig] = useState(null);
  const [error, setError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const on = () => setPage(route());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    get('config')
      .then((c) => {
        setConfig(c);
        setError(null);
      })
      .catch((e) => setError(e));
  }, [attempt]);
  const Page = PAGES.find(([n]) => n === page)[2];
  return html`<header>
      <span class="brand">reclab</span>
      <nav>${PAGES.map(([n, label]) => html`<a href=${`#/${n}`} class=${n === page ? 'active' : ''}>${label}</a>`)}</nav>
    </header>
    <main>
      ${error instanceof AuthError
        ? html`<${KeyForm} onKey=${() => setAttempt((a) => a + 1)} />`
        : error
          ? html`<p class="error">${error.message}</p>`
          : config
            ? html`<${Page} config=${config} />`
            : html`<p class="muted">loading…</p>`}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
