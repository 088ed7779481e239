/** User routes: create or replace, read, delete (with their feedback), list by cursor. */
import { Type } from 'typebox';
import * as S from '../schemas.ts';
import { httpError } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

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
    return { UserId: u.id, Labels: u.labels, Comment: u.comment };
  });
  api.delete('/user/:id', { schema: { ...tag('users'), params: S.IdParam, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    if (!(await store.deleteUser(request.params.id))) throw httpError(404, `user "${request.params.id}" not found`);
    return { RowAffected: 1 };
  });
  api.get(
    '/users',
    { schema: { ...tag('users'), querystring: S.CursorQuery, response: { 200: Type.Object({ Cursor: Type.String(), Users: Type.Array(S.UserOut) }), ...errors } } },
    async (request) => {
      const page = await store.listUsers(request.query.cursor ?? '', request.query.n ?? 100);
      return { Cursor: page.cursor, Users: page.rows.map((u) => ({ UserId: u.id, Labels: u.labels, Comment: u.comment })) };
    },
  );
}
