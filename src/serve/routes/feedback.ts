/**
 * Feedback routes on Gorse's paths: append (POST) or upsert (PUT) events; read the log by cursor,
 * by type, by user, by item and by (user, item) pair; delete a pair's events.
 *
 * Writes take an optional `Idempotency-Key` header: the key is committed with the events, so a
 * client that retries a write whose answer it never saw gets the first answer (with
 * `Idempotent-Replayed: true`) and no duplicate events; the same key with another body is a 422.
 */
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import * as S from '../schemas.ts';
import type { FeedbackEvent, FeedbackFilter, IdempotencyKey, WriteMode } from '../store.ts';
import { httpError, iso, seconds } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** The idempotency key of a request (the header, already validated by its schema), or undefined. */
function idempotencyOf(header: string | undefined, mode: WriteMode, body: unknown): IdempotencyKey | undefined {
  if (header === undefined) return undefined;
  const fingerprint = createHash('sha256').update(mode).update('\u0000').update(JSON.stringify(body)).digest('hex');
  return { key: header, fingerprint };
}

/** A stored event as the API returns it (Gorse's fields; feedback comments are not stored). */
const feedbackOut = (e: FeedbackEvent) => ({ FeedbackType: e.type, UserId: e.user, ItemId: e.item, Value: e.value, Timestamp: iso(e.time), Comment: '' });

/** Most events a per-user or per-item listing returns (Gorse returns them all; this bounds the work). */
const LIST_CAP = 10_000;

/** Registers the feedback routes on `api`. */
export function feedbackRoutes(api: Api, ctx: ServeContext): void {
  const { store, metrics, online } = ctx;
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
      else {
        metrics.feedback.inc({}, written.rows);
        online.feedback(events);
      }
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

  /** One page of the log under `filter`, in Gorse's `{Cursor, Feedback}`. */
  const page = async (filter: FeedbackFilter, q: { cursor?: string; Cursor?: string; n?: number }) => {
    const result = await store.listFeedback(filter, q.cursor ?? q.Cursor ?? '', q.n ?? 100);
    return { Cursor: result.cursor, Feedback: result.rows.map(feedbackOut) };
  };
  /** Every event under `filter` (up to {@link LIST_CAP}), as Gorse's plain array. */
  const all = async (filter: FeedbackFilter) => (await store.listFeedback(filter, '', LIST_CAP)).rows.map(feedbackOut);
  const pageSchema = (summary: string) => ({
    schema: { ...tag('feedback'), summary, querystring: S.FeedbackCursorQuery, response: { 200: S.FeedbackPage, ...errors } },
  });
  const listSchema = <P>(summary: string, params: P) => ({
    schema: { ...tag('feedback'), summary, params, response: { 200: Type.Array(S.FeedbackOut), ...errors } },
  });

  api.get('/feedback', pageSchema('The feedback log, by cursor'), async (request) => page({}, request.query));
  api.get('/feedback/:type', { schema: { ...pageSchema('The feedback log of one type, by cursor').schema, params: S.TypeParam } }, async (request) =>
    page({ type: request.params.type }, request.query),
  );
  api.get('/feedback/:user/:item', listSchema("A user's events on an item", S.PairParams), async (request) =>
    all({ user: request.params.user, item: request.params.item }),
  );
  api.delete(
    '/feedback/:user/:item',
    { schema: { ...tag('feedback'), summary: "Deletes a user's events on an item", params: S.PairParams, response: { 200: S.RowAffected, ...errors } } },
    async (request) => ({ RowAffected: await store.deleteFeedback({ user: request.params.user, item: request.params.item }) }),
  );
  api.get(
    '/feedback/:type/:user/:item',
    {
      schema: {
        ...tag('feedback'),
        summary: "A user's latest event of a type on an item",
        params: S.TypedPairParams,
        response: { 200: S.FeedbackOut, ...errors },
      },
    },
    async (request) => {
      const { type, user, item } = request.params;
      const rows = await all({ type, user, item });
      if (rows.length === 0) throw httpError(404, `no "${type}" feedback of user "${user}" on item "${item}"`);
      return rows[rows.length - 1];
    },
  );
  api.delete(
    '/feedback/:type/:user/:item',
    {
      schema: { ...tag('feedback'), summary: "Deletes a user's events of a type on an item", params: S.TypedPairParams, response: { 200: S.RowAffected, ...errors } },
    },
    async (request) => ({ RowAffected: await store.deleteFeedback({ type: request.params.type, user: request.params.user, item: request.params.item }) }),
  );

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
    async (request) => (await store.userFeedback(request.params.id, undefined, request.query.n ?? 1000)).map(feedbackOut),
  );
  api.get('/user/:id/feedback/:type', listSchema("A user's feedback of one type in time order", S.IdTypeParams), async (request) =>
    (await store.userFeedback(request.params.id, [request.params.type], LIST_CAP)).map(feedbackOut),
  );
  api.get('/item/:id/feedback', listSchema("An item's feedback", S.IdParam), async (request) => all({ item: request.params.id }));
  api.get('/item/:id/feedback/:type', listSchema("An item's feedback of one type", S.IdTypeParams), async (request) =>
    all({ item: request.params.id, type: request.params.type }),
  );
}
