/** Item routes: create or replace, read, patch, delete (a tombstone), list by cursor, add and remove a category. */
import { Type } from 'typebox';
import * as S from '../schemas.ts';
import type { ItemRecord } from '../store.ts';
import { httpError, itemOut, seconds } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** The stored record of an item body. */
function toItem(b: S.ItemBody, now: number): ItemRecord {
  return {
    id: b.ItemId,
    hidden: b.IsHidden ?? false,
    categories: b.Categories ?? [],
    labels: b.Labels ?? [],
    time: seconds(b.Timestamp, now),
    comment: b.Comment ?? '',
  };
}

/** Registers the item routes on `api`. */
export function itemRoutes(api: Api, { store, catalog }: ServeContext): void {
  api.post('/item', { schema: { ...tag('items'), body: S.Item, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    await store.upsertItems([toItem(request.body, Date.now() / 1000)]);
    await catalog.refresh();
    return { RowAffected: 1 };
  });
  api.post(
    '/items',
    { schema: { ...tag('items'), body: Type.Array(S.Item, { minItems: 1, maxItems: S.MAX_BATCH }), response: { 200: S.RowAffected, ...errors } } },
    async (request) => {
      const now = Date.now() / 1000;
      await store.upsertItems(request.body.map((b) => toItem(b, now)));
      await catalog.refresh();
      return { RowAffected: request.body.length };
    },
  );
  api.get('/item/:id', { schema: { ...tag('items'), params: S.IdParam, response: { 200: S.ItemOut, ...errors } } }, async (request) => {
    const it = await store.getItem(request.params.id);
    if (!it) throw httpError(404, `item "${request.params.id}" not found`);
    return itemOut(it);
  });
  api.patch('/item/:id', { schema: { ...tag('items'), params: S.IdParam, body: S.ItemPatch, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    const p = request.body;
    if (p.ItemId !== undefined && p.ItemId !== request.params.id) throw httpError(400, `body/ItemId "${p.ItemId}" differs from the item in the path "${request.params.id}"`);
    const it = await store.getItem(request.params.id);
    if (!it) throw httpError(404, `item "${request.params.id}" not found`);
    await store.upsertItems([
      {
        id: it.id,
        hidden: p.IsHidden ?? it.hidden,
        categories: p.Categories ?? it.categories,
        labels: p.Labels ?? it.labels,
        time: seconds(p.Timestamp, it.time),
        comment: p.Comment ?? it.comment,
      },
    ]);
    await catalog.refresh();
    return { RowAffected: 1 };
  });
  api.delete('/item/:id', { schema: { ...tag('items'), params: S.IdParam, response: { 200: S.RowAffected, ...errors } } }, async (request) => {
    if (!(await store.deleteItem(request.params.id))) throw httpError(404, `item "${request.params.id}" not found`);
    await catalog.refresh();
    return { RowAffected: 1 };
  });
  api.get(
    '/items',
    { schema: { ...tag('items'), querystring: S.CursorQuery, response: { 200: Type.Object({ Cursor: Type.String(), Items: Type.Array(S.ItemOut) }), ...errors } } },
    async (request) => {
      const page = await store.listItems(request.query.cursor ?? request.query.Cursor ?? '', request.query.n ?? 100);
      return { Cursor: page.cursor, Items: page.rows.map(itemOut) };
    },
  );
  /** Adds (`add`) or removes a category of an item (Gorse's PUT/DELETE /item/{id}/category/{category}). */
  const category = (add: boolean) => async (request: { params: { id: string; category: string } }) => {
    const { id, category: c } = request.params;
    const it = await store.getItem(id);
    if (!it) throw httpError(404, `item "${id}" not found`);
    const has = it.categories.includes(c);
    if (add && !has && it.categories.length >= 100) throw httpError(400, `item "${id}" already has 100 categories, the most an item may have`);
    if (add !== has) {
      await store.upsertItems([{ ...it, categories: add ? [...it.categories, c] : it.categories.filter((x) => x !== c) }]);
      await catalog.refresh();
    }
    return { RowAffected: 1 };
  };
  const categorySchema = (summary: string) => ({
    schema: { ...tag('items'), summary, params: S.ItemCategoryParams, response: { 200: S.RowAffected, ...errors } },
  });
  api.put('/item/:id/category/:category', categorySchema('Adds a category to an item'), category(true));
  api.delete('/item/:id/category/:category', categorySchema('Removes a category from an item'), category(false));
}
