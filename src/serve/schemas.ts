/**
 * The HTTP API's schemas — the single source of truth: Fastify validates requests and serializes
 * responses with them, TypeScript infers the handler types from them (TypeBox), and the OpenAPI
 * document at /docs is generated from them. Field names follow Gorse (PascalCase) so existing
 * Gorse clients feel at home.
 */
import { Type, type Static } from 'typebox';

/** Longest id (user, item, feedback type, category) accepted. */
export const MAX_ID = 256;
/** Most rows in one batch write. */
export const MAX_BATCH = 10_000;
/** Largest page (`n`) of any listing. */
export const MAX_N = 1_000;

const Id = (description: string) => Type.String({ minLength: 1, maxLength: MAX_ID, description });
const Labels = Type.Array(Type.String({ maxLength: MAX_ID }), { maxItems: 100, description: 'free-form labels' });
const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 time, e.g. 2024-05-01T12:00:00Z' });

/** One feedback event. */
export const Feedback = Type.Object(
  {
    FeedbackType: Id('kind of event, e.g. click, like, purchase'),
    UserId: Id('raw user id'),
    ItemId: Id('raw item id'),
    Value: Type.Optional(Type.Number({ description: 'rating or weight (default 1)' })),
    Timestamp: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export type FeedbackBody = Static<typeof Feedback>;

/** A batch of feedback. */
export const FeedbackBatch = Type.Array(Feedback, { minItems: 1, maxItems: MAX_BATCH });

/** Rows written by a batch write. */
export const RowAffected = Type.Object({ RowAffected: Type.Integer() });

/** A user. */
export const User = Type.Object(
  { UserId: Id('raw user id'), Labels: Type.Optional(Labels), Comment: Type.Optional(Type.String({ maxLength: 4096 })) },
  { additionalProperties: false },
);
export type UserBody = Static<typeof User>;

/** An item. */
export const Item = Type.Object(
  {
    ItemId: Id('raw item id'),
    IsHidden: Type.Optional(Type.Boolean({ description: 'hidden items are never recommended' })),
    Categories: Type.Optional(Type.Array(Id('category'), { maxItems: 100 })),
    Labels: Type.Optional(Labels),
    Timestamp: Type.Optional(Timestamp),
    Comment: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type ItemBody = Static<typeof Item>;

/** A partial item update. */
export const ItemPatch = Type.Object(
  {
    IsHidden: Type.Optional(Type.Boolean()),
    Categories: Type.Optional(Type.Array(Id('category'), { maxItems: 100 })),
    Labels: Type.Optional(Labels),
    Timestamp: Type.Optional(Timestamp),
    Comment: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type ItemPatchBody = Static<typeof ItemPatch>;

/** `{id}` path parameter. */
export const IdParam = Type.Object({ id: Id('raw id') });

/** Paging of cursor listings. */
export const CursorQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: MAX_ID, description: 'cursor returned by the previous page' })),
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_N, default: 100 })),
});

/** Filters of every ranked list. */
export const ListQuery = Type.Object({
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_N, default: 10, description: 'number of items' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 0, description: 'items to skip' })),
  category: Type.Optional(Id('only items of this category')),
  exclude: Type.Optional(Type.String({ maxLength: 65_536, description: 'comma-separated item ids never to return' })),
});
export type ListQueryType = Static<typeof ListQuery>;

/** Filters of a user's recommendations. */
export const RecommendQuery = Type.Object({
  ...ListQuery.properties,
  seen: Type.Optional(Type.Boolean({ default: false, description: 'allow items the user already interacted with' })),
});

/** The anonymous session posted to /api/session/recommend: events in time order. */
export const SessionBody = Type.Array(
  Type.Object(
    {
      ItemId: Id('raw item id'),
      FeedbackType: Type.Optional(Id('kind of event')),
      Value: Type.Optional(Type.Number()),
      Timestamp: Type.Optional(Timestamp),
      UserId: Type.Optional(Type.String({ maxLength: MAX_ID })),
    },
    { additionalProperties: false },
  ),
  { maxItems: MAX_BATCH },
);

/** One scored item of an answer. */
export const ScoredItem = Type.Object({ ItemId: Type.String(), Score: Type.Number() });

/** The model that answered. */
export const ModelInfo = Type.Object({ Name: Type.String(), Version: Type.String() });

/** A ranked answer. */
export const Ranked = Type.Object({
  Strategy: Type.Union([Type.Literal('model'), Type.Literal('popular'), Type.Literal('latest')], {
    description: 'model: the served model ranked them; popular/latest: cold-start fallback',
  }),
  Model: Type.Union([ModelInfo, Type.Null()]),
  Items: Type.Array(ScoredItem),
});

/** A stored feedback event as returned. */
export const FeedbackOut = Type.Object({
  FeedbackType: Type.String(),
  UserId: Type.String(),
  ItemId: Type.String(),
  Value: Type.Number(),
  Timestamp: Type.String(),
});

/** A stored user as returned. */
export const UserOut = Type.Object({ UserId: Type.String(), Labels: Type.Array(Type.String()), Comment: Type.String() });

/** A stored item as returned. */
export const ItemOut = Type.Object({
  ItemId: Type.String(),
  IsHidden: Type.Boolean(),
  Categories: Type.Array(Type.String()),
  Labels: Type.Array(Type.String()),
  Timestamp: Type.String(),
  Comment: Type.String(),
});

/** The error body of every 4xx/5xx. */
export const ErrorOut = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() });

/** Model selection for PUT /api/model. */
export const ModelSelect = Type.Object({ Name: Type.Optional(Id('bundle name under --models; default: CURRENT or newest')) }, { additionalProperties: false });

/** What GET /api/model reports. */
export const ModelStatus = Type.Object({
  Name: Type.Union([Type.String(), Type.Null()]),
  Version: Type.Union([Type.String(), Type.Null()]),
  Sequential: Type.Boolean(),
  Dataset: Type.Union([Type.String(), Type.Null()]),
  Users: Type.Integer(),
  Items: Type.Integer(),
  Swaps: Type.Integer(),
  Available: Type.Array(Type.String()),
});
