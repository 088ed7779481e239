/**
 * Recommendation routes on Gorse's paths: for a user, for an anonymous session, item and user
 * neighbours, popular, latest — each with and without a trailing `/{category}`, as gorsejs calls
 * them (the router ignores a trailing slash).
 *
 * Shapes are Gorse's by default (`string[]` for a user's recommendation, `[{Id, Score}]` for the
 * rest); `?format=reclab` or `Reclab-Format: reclab` gives reclab's richer answer (strategy,
 * model, scores) instead.
 */
import type { FastifyReply } from 'fastify';
import * as S from '../schemas.ts';
import type { Answer } from '../engine.ts';
import { gorseScored, listOptions, parseDuration, ranked, seconds, wantsReclab } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

type Headers = Record<string, string | string[] | undefined>;

/**
 * Sends a ranked answer as JSON text. Why not the response schema's serializer: the schema is a
 * union (Gorse's shape or reclab's), and fast-json-stringify picks a union branch by validating
 * the value against each — measurable on the hottest route. The shapes are built here from
 * finite numbers and strings only, so JSON.stringify is exact; the schema still documents them.
 */
function sendJson(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(body));
}

/** Registers the recommendation routes on `api`. */
export function recommendRoutes(api: Api, ctx: ServeContext): void {
  const { engine, metrics, store, online } = ctx;
  const scored = (reply: FastifyReply, answer: Answer, query: S.ListQueryType, headers: Headers) =>
    sendJson(reply, wantsReclab(query, headers) ? ranked(answer) : gorseScored(answer));
  const withCategory = (path: string) => [path, `${path}/:category`];

  for (const url of withCategory('/recommend/:id')) {
    api.get(
      url,
      {
        schema: {
          ...tag('recommend'),
          summary: 'Recommendations for a user, from their latest events (Gorse: item ids)',
          params: S.IdCategoryParams,
          querystring: S.RecommendQuery,
          response: { 200: S.RecommendOut, ...errors },
        },
      },
      async (request, reply) => {
        const { id, category } = request.params;
        const q = request.query;
        const answer = await engine.recommendUser(id, listOptions({ ...q, category: category ?? q.category }));
        metrics.answers.inc({ strategy: answer.strategy });
        const type = q['write-back-type'];
        if (type !== undefined && answer.items.length > 0) {
          // Gorse's write-back: the returned items are stored as feedback of that type (usually
          // a "read" type), dated now plus the delay, so they count as shown.
          const time = Date.now() / 1000 + (parseDuration(q['write-back-delay'] ?? '0') ?? 0);
          await store.insertFeedback(
            answer.items.map((s) => ({ type, user: id, item: s.id, value: 1, time })),
            'insert',
          );
          metrics.feedback.inc({}, answer.items.length);
        }
        online.served(id, answer, type !== undefined);
        return sendJson(reply, wantsReclab(q, request.headers) ? ranked(answer) : answer.items.map((s) => s.id));
      },
    );
  }
  for (const url of withCategory('/session/recommend')) {
    api.post(
      url,
      {
        schema: {
          ...tag('recommend'),
          summary: 'Recommendations for an anonymous session (its positive events, in time order)',
          params: S.CategoryParams,
          querystring: S.ListQuery,
          body: S.SessionBody,
          response: { 200: S.ScoredOut, ...errors },
        },
      },
      async (request, reply) => {
        // Events with times are ordered by them; the rest keep their position (stable sort).
        // Negative and read events are not the session's taste: they only exclude their items.
        const events = request.body.map((e, k) => ({ id: e.ItemId, type: e.FeedbackType, t: seconds(e.Timestamp, Number.NaN), k }));
        events.sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) ? a.k - b.k : a.t - b.t || a.k - b.k));
        const positive = events.filter((e) => e.type === undefined || engine.feedbackKind(e.type) === 'positive').map((e) => e.id);
        const q = request.query;
        const opts = listOptions({ ...q, category: request.params.category ?? q.category });
        opts.exclude = [...(opts.exclude ?? []), ...events.map((e) => e.id)];
        const answer = await engine.recommendSession(positive, opts);
        metrics.answers.inc({ strategy: answer.strategy });
        return scored(reply, answer, q, request.headers);
      },
    );
  }
  for (const url of withCategory('/item/:id/neighbors')) {
    api.get(
      url,
      {
        schema: {
          ...tag('recommend'),
          summary: 'Items that go with an item (an item the model does not know has none)',
          params: S.IdCategoryParams,
          querystring: S.ListQuery,
          response: { 200: S.ScoredOut, ...errors },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const opts = listOptions({ ...q, category: request.params.category ?? q.category });
        const answer = engine.neighbors(request.params.id, opts) ?? { items: [], strategy: 'model' as const };
        return scored(reply, answer, q, request.headers);
      },
    );
  }
  api.get(
    '/user/:id/neighbors',
    {
      schema: {
        ...tag('recommend'),
        summary: 'Users with the most similar histories (cosine over the served model’s training events)',
        params: S.IdParam,
        querystring: S.ListQuery,
        response: { 200: S.ScoredOut, ...errors },
      },
    },
    async (request, reply) => scored(reply, engine.userNeighbors(request.params.id, listOptions(request.query)), request.query, request.headers),
  );
  for (const url of withCategory('/popular')) {
    api.get(
      url,
      { schema: { ...tag('recommend'), summary: 'Popular items', params: S.CategoryParams, querystring: S.ListQuery, response: { 200: S.ScoredOut, ...errors } } },
      async (request, reply) => {
        const q = request.query;
        const opts = await engine.withUserSeen(listOptions({ ...q, category: request.params.category ?? q.category }), q['user-id']);
        return scored(reply, await engine.popular(opts), q, request.headers);
      },
    );
  }
  for (const url of withCategory('/latest')) {
    api.get(
      url,
      { schema: { ...tag('recommend'), summary: 'Newest items', params: S.CategoryParams, querystring: S.ListQuery, response: { 200: S.ScoredOut, ...errors } } },
      async (request, reply) => {
        const q = request.query;
        const opts = await engine.withUserSeen(listOptions({ ...q, category: request.params.category ?? q.category }), q['user-id']);
        return scored(reply, engine.latest(opts), q, request.headers);
      },
    );
  }
}
