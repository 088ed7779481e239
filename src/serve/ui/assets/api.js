// Data routes of the dashboard: every call carries the API key the person entered (kept for this
// tab only, in sessionStorage), and a 401 asks for it again.
const KEY = 'reclab-api-key';

/** The key entered in this tab, or ''. */
export const apiKey = () => sessionStorage.getItem(KEY) ?? '';
/** Remembers the key for this tab. */
export const setApiKey = (key) => sessionStorage.setItem(KEY, key);

/** Raised for a refused key, so the app can show the key form. */
export class AuthError extends Error {}

const headers = (extra = {}) => (apiKey() ? { 'X-API-Key': apiKey(), ...extra } : extra);

async function check(r) {
  if (r.status === 401) throw new AuthError('this dashboard needs an API key');
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      message = (await r.json()).error ?? message;
    } catch {
      // not JSON: keep the status line
    }
    const e = new Error(message);
    e.status = r.status;
    throw e;
  }
  return r;
}

/** GET /ui/api/<path> with query `params`, as JSON. */
export async function get(path, params = {}) {
  const q = new URLSearchParams(params).toString();
  const r = await fetch(`./api/${path}${q ? `?${q}` : ''}`, { headers: headers() });
  return (await check(r)).json();
}

/** GET as text (exports). */
export async function getText(path, params = {}) {
  const q = new URLSearchParams(params).toString();
  return (await check(await fetch(`./api/${path}${q ? `?${q}` : ''}`, { headers: headers() }))).text();
}

/** POST JSON to /ui/api/<path>; resolves `{ status, body }` (a refusal is an answer here, not an error). */
export async function post(path, body) {
  const r = await fetch(`./api/${path}`, { method: 'POST', headers: headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
  if (r.status === 401) throw new AuthError('this dashboard needs an API key');
  return { status: r.status, body: await r.json() };
}

/** A call to the service's own API (Service page), with the same key and an optional admin key. */
export async function service(path, init = {}, adminKey = '') {
  const extra = { ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...(adminKey ? { 'X-Admin-Key': adminKey } : {}) };
  return check(await fetch(path, { ...init, headers: headers(extra) }));
}
