/** User routes: create or replace, read, patch, delete (with their feedback), list by cursor. */
import { Type } from 'typebox';
import * as S from '../schemas.ts';
import { httpError } from '../http.ts';
import type { UserRecord } from '../store.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** A user as the API returns it (Gorse's fields; subscriptions are not stored). */
const userOut = (u: UserRecord) => ({ UserId: u.id, Labels: u.labels, Subscribe: [] as string[], Comment: u.comment });

/** Registers the user routes on `api`. */
export function userRoutes(api: Api, { store }: ServeContext): void {
  api.post('/user', { schema: { ...tag('users'), body: S.User, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    const u = request.body;
    await store.upsertUsers([{ id: u.UserId, labels: u.Labels ?? [], comment: u.Comment ?? '' }]);
    return { RowAffected: 1 };
  });
  api.post(
    '/users',
    { schema: { ...tag('users'), body: Type.Array(S.User, { minItems: 1, maxItems: S.MAX_BATCH }), response: { 200: S.RowAffected, ...errors } } },
    async (request) => {
      await store.upsertUsers(request.body.map((u) => ({ id: u.UserId, labels: u.Labels ?? [], comment: u.Comment ?? '' })));
      return { RowAffected: request.body.length };
    },
  );
  api.get('/user/:id', { schema: { ...tag('users'), params: S.IdParam, response: { 200: S.UserOut, ...errors } } }, async (request) => {
    const u = await store.getUser(request.params.id);
    if (!u) throw httpError(404, `user "${request.params.id}" not found`);
    return userOut(u);
  });
  api.patch('/user/:id', { schema: { ...tag('users'), params: S.IdParam, body: S.UserPatch, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    const p = request.body;
    if (p.UserId !== undefined && p.UserId !== request.params.id) throw httpError(400, `body/UserId "${p.UserId}" differs from the user in the path "${request.params.id}"`);
    const u = await store.getUser(request.params.id);
    if (!u) throw httpError(404, `user "${request.params.id}" not found`);
    await store.upsertUsers([{ id: u.id, labels: p.Labels ?? u.labels, comment: p.Comment ?? u.comment }]);
    return { RowAffected: 1 };
  });
  api.delete('/user/:id', { schema: { ...tag('users'), params: S.IdParam, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    if (!(await store.deleteUser(request.params.id))) throw httpError(404, `user "${request.params.id}" not found`);
    return { RowAffected: 1 };
  });
  api.get(
    '/users',
    { schema: { ...tag('users'), querystring: S.CursorQuery, response: { 200: Type.Object({ Cursor: Type.String(), Users: Type.Array(S.UserOut) }), ...errors } } },
    async (request) => {
      const page = await store.listUsers(request.query.cursor ?? request.query.Cursor ?? '', request.query.n ?? 100);
      return { Cursor: page.cursor, Users: page.rows.map(userOut) };
    },
  );
}
