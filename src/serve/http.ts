/**
 * Small pieces every route group shares: HTTP errors with a status, time conversions, the shapes
 * of answers, and the list filters of a query string.
 */
import { STATUS_CODES } from 'node:http';
import type { ItemRecord } from './store.ts';
import type { Answer, ListOptions } from './engine.ts';

/** An HTTP error with a status code (the error handler turns it into the error body). */
export function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

/**
 * The time forms Gorse accepts (it parses with Go's dateparse): RFC 3339, a date alone
 * (`2022-02-24`), a date and time with a space or a `T` and optional seconds, fraction and zone
 * (`2022-02-24 10:00:00`, `2022-02-24T10:00+08:00`), and Unix time as digits (10 digits or fewer:
 * seconds, 13: milliseconds). A time without a zone is UTC.
 */
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)? ?(Z|z|UTC|[+-]\d{2}:?\d{2})?$/;

/** Seconds since the epoch of a time in one of Gorse's forms, or undefined when it is not one. */
export function parseTime(ts: string): number | undefined {
  if (/^\d{1,10}$/.test(ts)) return Number(ts);
  if (/^\d{13}$/.test(ts)) return Number(ts) / 1000;
  const m = TIME.exec(ts);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  if (zone !== 'Z' && zone !== 'z' && zone !== 'UTC') {
    const digits = zone.replace(':', '');
    offset = (zone[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  // Date.UTC rolls 2022-02-31 over into March: refuse dates that do not exist.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms / 1000 + (frac ? Number(`0${frac}`) : 0) - offset * 60;
}

/** Seconds since the epoch from a time in one of Gorse's forms (already validated by the schema). */
export function seconds(ts: string | undefined, fallback: number): number {
  if (ts === undefined) return fallback;
  return parseTime(ts) ?? fallback;
}

/** Units of Go's time.ParseDuration, in seconds. */
const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * Seconds of a Go duration (`10m`, `1h30m`, `-1.5h`, `0`), as Gorse reads `write-back-delay`;
 * undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (const part of text.slice(m[1].length).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]];
  return m[1] === '-' ? -total : total;
}

/** RFC 3339 string of epoch seconds (out-of-range times clamp rather than throw). */
export function iso(t: number): string {
  const d = new Date(t * 1000);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/** An item as the API returns it. */
export function itemOut(it: ItemRecord) {
  return { ItemId: it.id, IsHidden: it.hidden, Categories: it.categories, Labels: it.labels, Timestamp: iso(it.time), Comment: it.comment };
}

/** A ranked answer in reclab's richer form (opt-in on Gorse paths, see {@link wantsReclab}). */
export function ranked(a: Answer) {
  return {
    Strategy: a.strategy,
    Model: a.model ? { Name: a.model.name, Version: a.model.version } : null,
    Items: a.items.map((s) => ({ ItemId: s.id, Score: Number.isFinite(s.score) ? s.score : 0 })),
  };
}

/** Gorse's `[{"Id", "Score"}]` of popular, latest, neighbours and session answers. */
export function gorseScored(a: Answer): { Id: string; Score: number }[] {
  return a.items.map((s) => ({ Id: s.id, Score: Number.isFinite(s.score) ? s.score : 0 }));
}

/** Header asking for reclab's richer answer on a Gorse path (same as `?format=reclab`). */
export const FORMAT_HEADER = 'reclab-format';

/**
 * True when the client asked for reclab's richer answer (strategy, model, scores) instead of
 * Gorse's shape: `?format=reclab` or the header `Reclab-Format: reclab`. Gorse clients send
 * neither, so they get Gorse's shapes.
 */
export function wantsReclab(query: { format?: string }, headers: Record<string, string | string[] | undefined>): boolean {
  return query.format === 'reclab' || headers[FORMAT_HEADER] === 'reclab';
}

/** The list filters of a query string (already validated and defaulted by the schema). */
export function listOptions(q: { n?: number; offset?: number; category?: string; exclude?: string; seen?: boolean }): ListOptions {
  return {
    n: q.n ?? 10,
    offset: q.offset ?? 0,
    category: q.category,
    exclude: q.exclude ? q.exclude.split(',').filter((s) => s.length > 0) : undefined,
    excludeSeen: q.seen !== true,
  };
}

/** Standard reason phrase of an error status (so a 404 is never labelled "Bad Request"). */
export function reason(status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request');
}
