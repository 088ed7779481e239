// Arena: the LLM-judged report, and human voting — a sampled user's history and two anonymised
// lists in random order; keys A / B (or ← / →), T (or ↓) for a tie, S (or space) to skip.
// Ratings from human votes, LLM votes and both, and their agreement, come from the server.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { get, getText, post } from './api.js';

const f = (x, d = 4) => (typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(d))) : '—');
const pct = (i) => (Number.isFinite(i.estimate) ? `${(100 * i.estimate).toFixed(1)} % [${(100 * i.lo).toFixed(1)}, ${(100 * i.hi).toFixed(1)}]` : '—');
const VOTER = 'reclab-voter';

function voterName() {
  let v = localStorage.getItem(VOTER);
  if (!v) {
    v = `voter-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
    localStorage.setItem(VOTER, v);
  }
  return v;
}

function Ratings({ r, label }) {
  if (!r) return null;
  return html`<table class="ratings" data-ratings=${label}>
    <thead><tr><th colspan="3">${label}</th></tr><tr><th>system</th><th>rating</th><th>95 % interval</th></tr></thead>
    <tbody>${r.systems.map((s, i) => html`<tr><td>${s}</td><td data-system=${s}>${r.rating[i].toFixed(1)}</td><td>${Number.isFinite(r.interval[i].lo) ? `[${r.interval[i].lo.toFixed(0)}, ${r.interval[i].hi.toFixed(0)}]` : '—'}</td></tr>`)}</tbody>
  </table>`;
}

function Report({ view }) {
  return html`<section class="card">
    <h3>LLM judge: ${view.judge} <small>(${view.template}, ${view.matches} matches)</small></h3>
    <table><thead><tr><th>pair</th><th>first wins</th><th>tie</th><th>second wins</th><th>n</th></tr></thead>
      <tbody>${view.pairs.map((p) => html`<tr><td>${p.a} vs ${p.b}</td><td>${pct(p.overall.winRateA)}</td><td>${pct(p.overall.tieRate)}</td><td>${pct(p.overall.winRateB)}</td><td>${p.overall.n}</td></tr>`)}</tbody></table>
    <p class="note">Win rates with 95 % Wilson intervals, overall dimension.</p>
    <${Ratings} r=${view.ratings} label="LLM Bradley–Terry (report)" />
    ${view.agreement ? html`<p>Kendall τ-b against offline ${view.agreement.metric}: ${view.agreement.kendallTauB === null ? `not defined (${view.agreement.note})` : f(view.agreement.kendallTauB, 3)}</p>` : null}
  </section>`;
}

function Item({ it, rating }) {
  return html`<li><span class="title">${it.title}</span>${it.genres?.length ? html` <small>${it.genres.join(', ')}</small>` : null}${rating && it.rating !== undefined ? html` <small>★${it.rating}</small>` : null}</li>`;
}

function Voting({ id }) {
  const [voter, setVoter] = useState(voterName());
  // What is typed, apart from the voter in use until Enter or blur: a ballot or the ratings
  // arriving mid-typing re-render the input, and a value bound to `voter` would wipe the text.
  const [draft, setDraft] = useState(voter);
  const [ballot, setBallot] = useState(null);
  const [status, setStatus] = useState('');
  const [summary, setSummary] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refresh = useCallback(() => get('arena/human', { id }).then(setSummary, setError), [id]);
  // A ballot belongs to one voter: an answer for a voter or report no longer shown is dropped.
  const current = useRef('');
  current.current = `${id}\u0000${voter}`;
  const next = useCallback(() => {
    const asked = `${id}\u0000${voter}`;
    return get('arena/ballot', { id, voter }).then((b) => current.current === asked && setBallot({ ...b, voter }), setError);
  }, [id, voter]);
  useEffect(() => {
    setBallot(null);
    next();
    refresh();
  }, [id, voter]);
  // The key handler is registered once and reads everything through a ref set at each render, so
  // a key pressed right after a pair appears acts on that pair and that voter (a closure would
  // still hold the first render's).
  const state = useRef({});
  state.current = { ballot, voter, busy, next, refresh };
  const vote = async (choice) => {
    const { ballot: b, voter: who, busy: inFlight, next, refresh } = state.current;
    if (!b || b.done || inFlight) return;
    state.current.busy = true;
    setBusy(true);
    try {
      const r = await post('arena/vote', { ballot: b.ballot, voter: who, choice });
      setStatus(r.status === 200 ? `vote stored (${choice})` : `refused: ${r.body.error}`);
      if (r.status === 200) {
        await next();
        // The ratings follow in the background: the next pair can be voted on at once.
        refresh();
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    const keys = { a: 'left', ArrowLeft: 'left', b: 'right', ArrowRight: 'right', t: 'tie', ArrowDown: 'tie', s: 'skip', ' ': 'skip' };
    const on = (e) => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.ctrlKey || e.metaKey || e.altKey) return;
      const choice = keys[e.key];
      if (!choice) return;
      e.preventDefault();
      vote(choice);
    };
    addEventListener('keydown', on);
    return () => removeEventListener('keydown', on);
  }, []);
  const exportVotes = async () => {
    const text = await getText('arena/votes.jsonl', { id });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
    a.download = 'votes.jsonl';
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return html`<section class="card voting">
    <h3>Your vote</h3>
    <label>Voter <input name="voter" value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)} onChange=${(e) => {
      localStorage.setItem(VOTER, e.currentTarget.value);
      setVoter(e.currentTarget.value);
    }} /></label>
    ${error ? html`<p class="error">${error.message}</p>` : null}
    ${ballot?.done ? html`<p id="ballot-done">You have voted on every pair of this report. Thank you.</p>` : null}
    ${ballot && !ballot.done
      ? html`<div class="ballot" data-ballot=${ballot.ballot} data-voter=${ballot.voter} data-busy=${busy ? "yes" : "no"}>
          <p class="muted">${ballot.remaining} pairs left for you. Which list would this user rather get?</p>
          ${ballot.demographics ? html`<p>About the user: ${ballot.demographics}</p>` : null}
          <div class="history"><h4>Their history (oldest first)</h4><ol>${ballot.history.map((it) => html`<${Item} it=${it} rating=${true} />`)}</ol></div>
          <div class="lists">
            <div><h4>List A</h4><ol id="list-left">${ballot.left.map((it) => html`<${Item} it=${it} />`)}</ol></div>
            <div><h4>List B</h4><ol id="list-right">${ballot.right.map((it) => html`<${Item} it=${it} />`)}</ol></div>
          </div>
          <div class="buttons">
            <button onClick=${() => vote('left')}>A is better <kbd>A</kbd></button>
            <button onClick=${() => vote('tie')}>Tie <kbd>T</kbd></button>
            <button onClick=${() => vote('right')}>B is better <kbd>B</kbd></button>
            <button onClick=${() => vote('skip')}>Skip <kbd>S</kbd></button>
          </div>
        </div>`
      : null}
    <p id="vote-status" class="muted">${status}</p>
    ${summary
      ? html`<div class="human">
          <p>${summary.votes} human votes from ${summary.voters} voters${summary.pool ? '' : ' (this report has no voting pool)'}.</p>
          <div class="ratings-row">
            <${Ratings} r=${summary.human} label="human" />
            <${Ratings} r=${summary.llm} label="LLM" />
            <${Ratings} r=${summary.combined} label="combined" />
          </div>
          ${summary.agreement
            ? html`<p id="agreement">Human–LLM agreement on ${summary.agreement.n} shared judgements: ${Number.isFinite(summary.agreement.percent) ? `${(100 * summary.agreement.percent).toFixed(1)} %` : '—'}, Cohen's κ ${f(summary.agreement.kappa, 3)}</p>`
            : null}
          <button onClick=${exportVotes}>Export votes (JSONL)</button>
        </div>`
      : null}
  </section>`;
}

export function ArenaPage() {
  const [reports, setReports] = useState(null);
  const [id, setId] = useState('');
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get('catalog').then((c) => {
      const a = c.filter((e) => e.kind === 'arena');
      setReports(a);
      setId(a[0]?.id ?? '');
    }, setError);
  }, []);
  useEffect(() => {
    setView(null);
    if (id) get('arena', { id }).then(setView, setError);
  }, [id]);
  if (error) return html`<h2>Arena</h2><p class="error">${error.message}</p>`;
  if (!reports) return html`<p class="muted">loading…</p>`;
  if (!reports.length) return html`<h2>Arena</h2><p class="muted">No Arena report yet (reclab arena).</p>`;
  return html`<h2>Arena</h2>
    <select aria-label="Arena report" value=${id} onChange=${(e) => setId(e.currentTarget.value)}>${reports.map((r) => html`<option value=${r.id}>${r.path}</option>`)}</select>
    ${view ? html`<${Report} view=${view} />` : null}
    ${view?.voting ? html`<${Voting} id=${id} />` : view ? html`<p class="muted">This report has no voting pool: re-run reclab arena to save one.</p>` : null}`;
}
