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

/** Seconds since the epoch from an RFC 3339 string (already validated by the schema). */
export function seconds(ts: string | undefined, fallback: number): number {
  if (ts === undefined) return fallback;
  const ms = Date.parse(ts);
  return Number.isFinite(ms) ? ms / 1000 : fallback;
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

/** A ranked answer as the API returns it. */
export function ranked(a: Answer) {
  return {
    Strategy: a.strategy,
    Model: a.model ? { Name: a.model.name, Version: a.model.version } : null,
    Items: a.items.map((s) => ({ ItemId: s.id, Score: Number.isFinite(s.score) ? s.score : 0 })),
  };
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
