/**
 * Feedback routes: append (POST) or upsert (PUT) events, read a user's events.
 *
 * Writes take an optional `Idempotency-Key` header: the key is committed with the events, so a
 * client that retries a write whose answer it never saw gets the first answer (with
 * `Idempotent-Replayed: true`) and no duplicate events; the same key with another body is a 422.
 */
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import * as S from '../schemas.ts';
import type { FeedbackEvent, IdempotencyKey, WriteMode } from '../store.ts';
import { iso, seconds } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** The idempotency key of a request (the header, already validated by its schema), or undefined. */
function idempotencyOf(header: string | undefined, mode: WriteMode, body: unknown): IdempotencyKey | undefined {
  if (header === undefined) return undefined;
  const fingerprint = createHash('sha256').update(mode).update('\u0000').update(JSON.stringify(body)).digest('hex');
  return { key: header, fingerprint };
}

/** Registers the feedback routes on `api`. */
export function feedbackRoutes(api: Api, ctx: ServeContext): void {
  const { store, metrics } = ctx;
  const write = (mode: WriteMode) =>
    async function (request: { body: S.FeedbackBody[]; headers: { 'idempotency-key'?: string } }, reply: { header(k: string, v: string): unknown }) {
      const key = idempotencyOf(request.headers['idempotency-key'], mode, request.body);
      const now = Date.now() / 1000;
      const events: FeedbackEvent[] = request.body.map((f) => ({
        type: f.FeedbackType,
        user: f.UserId,
        item: f.ItemId,
        value: f.Value ?? 1,
        time: seconds(f.Timestamp, now),
      }));
      const written = await store.insertFeedback(events, mode, key);
      if (written.replayed) reply.header('idempotent-replayed', 'true');
      else metrics.feedback.inc({}, written.rows);
      return { RowAffected: written.rows };
    };
  const schema = (summary: string) => ({
    ...tag('feedback'),
    summary,
    headers: S.IdempotencyHeaders,
    body: S.FeedbackBatch,
    response: { 200: S.RowAffected, ...errors, 422: S.ErrorOut },
  });
  api.post('/feedback', { schema: schema('Append feedback events (acknowledged = committed)') }, write('insert'));
  api.put('/feedback', { schema: schema('Upsert feedback by (type, user, item)') }, write('upsert'));

  api.get(
    '/user/:id/feedback',
    {
      schema: {
        ...tag('feedback'),
        summary: "A user's feedback in time order",
        params: S.IdParam,
        querystring: Type.Object({ n: Type.Optional(S.Count(100_000, 1000, 'newest events to return')) }, { additionalProperties: true }),
        response: { 200: Type.Array(S.FeedbackOut), ...errors },
      },
    },
    async (request) => {
      const events = await store.userFeedback(request.params.id, undefined, request.query.n ?? 1000);
      return events.map((e) => ({ FeedbackType: e.type, UserId: e.user, ItemId: e.item, Value: e.value, Timestamp: iso(e.time) }));
    },
  );
}
