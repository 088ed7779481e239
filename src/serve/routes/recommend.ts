/** Recommendation routes: for a user, for an anonymous session, item neighbours, popular, latest. */
import * as S from '../schemas.ts';
import { httpError, listOptions, ranked, seconds } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** Registers the recommendation routes on `api`. */
export function recommendRoutes(api: Api, { engine, metrics }: ServeContext): void {
  const rankedResponse = { 200: S.Ranked, ...errors };
  api.get(
    '/recommend/:id',
    { schema: { ...tag('recommend'), summary: 'Recommendations for a user, from their latest events', params: S.IdParam, querystring: S.RecommendQuery, response: rankedResponse } },
    async (request) => {
      const answer = await engine.recommendUser(request.params.id, listOptions(request.query));
      metrics.answers.inc({ strategy: answer.strategy });
      return ranked(answer);
    },
  );
  api.post(
    '/session/recommend',
    { schema: { ...tag('recommend'), summary: 'Recommendations for an anonymous session', querystring: S.ListQuery, body: S.SessionBody, response: rankedResponse } },
    async (request) => {
      // Events with times are ordered by them; the rest keep their position (stable sort).
      const events = request.body.map((e, k) => ({ id: e.ItemId, t: seconds(e.Timestamp, Number.NaN), k }));
      events.sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) ? a.k - b.k : a.t - b.t || a.k - b.k));
      const answer = await engine.recommendSession(events.map((e) => e.id), listOptions(request.query));
      metrics.answers.inc({ strategy: answer.strategy });
      return ranked(answer);
    },
  );
  api.get(
    '/item/:id/neighbors',
    { schema: { ...tag('recommend'), summary: 'Items that go with an item', params: S.IdParam, querystring: S.ListQuery, response: rankedResponse } },
    async (request) => {
      const answer = engine.neighbors(request.params.id, listOptions(request.query));
      if (!answer) throw httpError(404, `item "${request.params.id}" is unknown to the served model`);
      return ranked(answer);
    },
  );
  api.get('/popular', { schema: { ...tag('recommend'), querystring: S.ListQuery, response: rankedResponse } }, async (request) =>
    ranked(await engine.popular(listOptions(request.query))),
  );
  api.get('/latest', { schema: { ...tag('recommend'), querystring: S.ListQuery, response: rankedResponse } }, async (request) =>
    ranked(engine.latest(listOptions(request.query))),
  );
}
