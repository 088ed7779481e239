/**
 * Tools over reclab's data and models, as MACRec's analysts and searcher use them: user info and
 * history, item info and history (who rated it), title search with the embedder, and — when a
 * fitted model is given — candidate retrieval and ranking with it. Ids are the dataset's raw ids
 * (what the agent reads in tool results and task statements); the rule layer checks they exist.
 */
import { z } from 'zod';
import type { Dataset, Interactions } from '../data/types.ts';
import { HashedNgramEmbedder, dot, type Embedder } from '../llm/index.ts';
import { embeddingForm, type ItemCatalogue } from '../llmrec/index.ts';
import { userDemographics } from '../llmrec/demographics.ts';
import type { Recommender } from '../models/recommender.ts';
import { topK } from '../models/topk.ts';
import { defineTool, RawId, type IdKind, type IdResolver, type Tool } from './tools.ts';

/** What the tools read. */
export interface AgentData {
  dataset: Dataset;
  /** The history the agent may see (train ∪ valid under leave-one-out: the test event is hidden). */
  history: Interactions;
  catalogue: ItemCatalogue;
  /** A fitted model for `retrieve` and `rank` (absent: those tools are not offered). */
  model?: Recommender;
  /** Embedder of `search_titles` (default: hashed character n-grams, no model needed). */
  embedder?: Embedder;
}

/** Id checks against the dataset's id maps. */
export function datasetIds(dataset: Dataset): IdResolver {
  return { exists: (kind: IdKind, raw: string) => (kind === 'user' ? dataset.userIds : dataset.itemIds).get(raw) !== undefined };
}

/** Events of each item in `history` (CSR by item: users and values), built once. */
interface ItemIndex {
  offsets: Int32Array;
  users: Int32Array;
  values: Float32Array | undefined;
}

function indexItems(h: Interactions): ItemIndex {
  const offsets = new Int32Array(h.nItems + 1);
  for (let p = 0; p < h.items.length; p++) offsets[h.items[p] + 1]++;
  for (let i = 0; i < h.nItems; i++) offsets[i + 1] += offsets[i];
  const fill = offsets.slice(0, h.nItems);
  const users = new Int32Array(h.items.length);
  const values = h.values ? new Float32Array(h.items.length) : undefined;
  for (let u = 0; u < h.nUsers; u++) {
    for (let p = h.offsets[u]; p < h.offsets[u + 1]; p++) {
      const at = fill[h.items[p]]++;
      users[at] = u;
      if (values) values[at] = h.values![p];
    }
  }
  return { offsets, users, values };
}

const mean = (xs: ArrayLike<number>, from: number, to: number): number | null => {
  if (to <= from) return null;
  let s = 0;
  for (let p = from; p < to; p++) s += xs[p];
  return Math.round((s / (to - from)) * 100) / 100;
};

const K = (max: number, def: number) => z.number().int().min(1).max(max).default(def);

/** The data tools: `user_info`, `user_history`, `item_info`, `item_history`, `search_titles`, and `retrieve` / `rank` with a model. */
export function reclabTools(data: AgentData): Tool[] {
  const { dataset, history: h, catalogue } = data;
  const uid = (raw: string): number => dataset.userIds.get(raw)!;
  const iid = (raw: string): number => dataset.itemIds.get(raw)!;
  const itemRaw = (i: number): string => dataset.itemIds.toRaw(i);
  const describe = (i: number) => ({ item_id: itemRaw(i), title: catalogue.titles[i], genres: catalogue.genres[i] });
  let byItem: ItemIndex | undefined;
  const items = (): ItemIndex => (byItem ??= indexItems(h));
  const embedder = data.embedder ?? new HashedNgramEmbedder();
  let titleVectors: Promise<Float32Array[]> | undefined;
  const tools: Tool[] = [
    defineTool({
      name: 'user_info',
      description: 'Profile of a user: number of events, mean rating, and demographics when the data has them.',
      args: z.object({ user_id: RawId }).strict(),
      ids: { user_id: 'user' },
      run: ({ user_id }) => {
        const u = uid(user_id);
        const demographics = userDemographics(dataset, u);
        return { user_id, events: h.offsets[u + 1] - h.offsets[u], mean_rating: h.values ? mean(h.values, h.offsets[u], h.offsets[u + 1]) : null, ...(demographics ? { demographics } : {}) };
      },
    }),
    defineTool({
      name: 'user_history',
      description: 'The last k items the user interacted with (oldest first), with titles, genres and ratings.',
      args: z.object({ user_id: RawId, k: K(50, 10) }).strict(),
      ids: { user_id: 'user' },
      run: ({ user_id, k }) => {
        const u = uid(user_id);
        const out = [];
        for (let p = Math.max(h.offsets[u], h.offsets[u + 1] - k); p < h.offsets[u + 1]; p++) out.push({ ...describe(h.items[p]), ...(h.values ? { rating: h.values[p] } : {}) });
        return { user_id, history: out };
      },
    }),
    defineTool({
      name: 'item_info',
      description: 'Metadata of an item: title, genres, number of ratings and mean rating.',
      args: z.object({ item_id: RawId }).strict(),
      ids: { item_id: 'item' },
      run: ({ item_id }) => {
        const i = iid(item_id);
        const ix = items();
        return { ...describe(i), ratings: ix.offsets[i + 1] - ix.offsets[i], mean_rating: ix.values ? mean(ix.values, ix.offsets[i], ix.offsets[i + 1]) : null };
      },
    }),
    defineTool({
      name: 'item_history',
      description: 'The last k users who rated the item, with their ratings.',
      args: z.object({ item_id: RawId, k: K(50, 10) }).strict(),
      ids: { item_id: 'item' },
      run: ({ item_id, k }) => {
        const i = iid(item_id);
        const ix = items();
        const out = [];
        for (let p = Math.max(ix.offsets[i], ix.offsets[i + 1] - k); p < ix.offsets[i + 1]; p++) out.push({ user_id: dataset.userIds.toRaw(ix.users[p]), ...(ix.values ? { rating: ix.values[p] } : {}) });
        return { item_id, raters: out };
      },
    }),
    defineTool({
      name: 'search_titles',
      description: 'Catalogue items whose titles are closest to the query (character n-gram embeddings).',
      args: z.object({ query: z.string().min(1), k: K(20, 5) }).strict(),
      run: async ({ query, k }) => {
        titleVectors ??= embedder.embed(catalogue.titles.map(embeddingForm));
        const vecs = await titleVectors;
        const [q] = await embedder.embed([embeddingForm(query)]);
        const scores = Float32Array.from(vecs, (v) => dot(q, v));
        const top = topK(scores, k);
        return { query, items: Array.from(top.items, (i) => ({ ...describe(i), score: Math.round(scores[i] * 1000) / 1000 })) };
      },
    }),
  ];
  const model = data.model;
  if (model) {
    const scoreUser = (u: number): Float32Array => {
      const out = new Float32Array(model.nItems);
      model.scoreUsers(Int32Array.of(u), h, out);
      return out;
    };
    tools.push(
      defineTool({
        name: 'retrieve',
        description: 'The top k items the recommender model proposes for the user (items already seen excluded).',
        args: z.object({ user_id: RawId, k: K(100, 20) }).strict(),
        ids: { user_id: 'user' },
        run: ({ user_id, k }) => {
          const u = uid(user_id);
          const seen = new Set(h.items.subarray(h.offsets[u], h.offsets[u + 1]));
          const top = topK(scoreUser(u), k, (i) => seen.has(i));
          return { user_id, items: Array.from(top.items, describe) };
        },
      }),
      defineTool({
        name: 'rank',
        description: 'Orders the given items for the user by the recommender model, best first.',
        args: z.object({ user_id: RawId, item_ids: z.array(RawId).min(1).max(100) }).strict(),
        ids: { user_id: 'user', item_ids: 'item' },
        run: ({ user_id, item_ids }) => {
          const s = scoreUser(uid(user_id));
          const ranked = [...item_ids].sort((a, b) => s[iid(b)] - s[iid(a)]);
          return { user_id, ranking: ranked };
        },
      }),
    );
  }
  return tools;
}
