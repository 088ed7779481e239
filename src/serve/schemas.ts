/**
 * The HTTP API's schemas — the single source of truth: Fastify validates requests and serializes
 * responses with them, TypeScript infers the handler types from them (TypeBox), and the OpenAPI
 * document at /docs is generated from them. Field names follow Gorse (PascalCase) so existing
 * Gorse clients feel at home.
 */
import { Type, type Static } from 'typebox';
import { parseDuration, parseTime } from './http.ts';

/** Longest id (user, item, feedback type, category) accepted, in characters (code points), in bodies and paths alike. */
export const MAX_ID = 256;
/** Most rows in one batch write. */
export const MAX_BATCH = 10_000;
/** Largest page (`n`) of any listing. */
export const MAX_N = 1_000;

/**
 * Text is stored as UTF-8, where a lone UTF-16 surrogate (`"\ud800"`, legal in JSON) becomes
 * U+FFFD — two different ids would collapse into one — and PostgreSQL refuses NUL. So every
 * string the API stores must be well-formed Unicode without NUL (the `text` format below).
 */
export function isWellFormedText(s: string): boolean {
  // In a /u regex a surrogate pair is one code point, so \p{Cs} matches only lone surrogates.
  return !LONE_SURROGATE.test(s) && !s.includes('\u0000');
}
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Registers the `text` format and the `finiteInteger` keyword on the validator. Why the keyword:
 * ajv coerces the query string "Infinity" (or "1e400") to the number Infinity, counts it as an
 * integer, and skips `minimum`/`maximum` for non-finite numbers — so `?n=Infinity` reached the
 * handlers. The keyword refuses anything but a safe integer.
 */
export function ajvPlugin(ajv: {
  addFormat(name: string, f: { type: 'string'; validate: (s: string) => boolean }): unknown;
  addKeyword(def: { keyword: string; schemaType: string; errors: boolean; validate: (schema: boolean, data: unknown) => boolean }): unknown;
}): typeof ajv {
  ajv.addFormat('text', { type: 'string', validate: isWellFormedText });
  ajv.addFormat('gorse-time', { type: 'string', validate: (s) => parseTime(s) !== undefined });
  ajv.addFormat('go-duration', { type: 'string', validate: (s) => parseDuration(s) !== undefined });
  const finiteInteger = (on: boolean, data: unknown): boolean => {
    if (!on || Number.isSafeInteger(data)) return true;
    finiteInteger.errors = [{ keyword: 'finiteInteger', message: 'must be a finite integer', params: {} }];
    return false;
  };
  finiteInteger.errors = [] as object[];
  ajv.addKeyword({ keyword: 'finiteInteger', schemaType: 'boolean', errors: true, validate: finiteInteger });
  return ajv;
}

/** Free text the API stores: well-formed Unicode, no NUL. */
const Text = (options: { minLength?: number; maxLength: number; description?: string }) => Type.String({ ...options, format: 'text' });
const Id = (description: string) => Text({ minLength: 1, maxLength: MAX_ID, description });
const Labels = Type.Array(Text({ maxLength: MAX_ID }), { maxItems: 100, description: 'free-form labels' });

/** An integer query parameter in [1, max] (finite: see {@link ajvPlugin}). */
export const Count = (max: number, dflt: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: max, default: dflt, description, finiteInteger: true });
const Timestamp = Type.String({
  format: 'gorse-time',
  maxLength: 64,
  description: 'a time as Gorse takes it: RFC 3339 (2024-05-01T12:00:00Z), 2024-05-01, 2024-05-01 12:00:00, or Unix seconds; no zone = UTC',
});
const GorseComment = Type.Optional(Text({ maxLength: 4096, description: 'accepted for Gorse compatibility, not stored' }));

/** One feedback event. */
export const Feedback = Type.Object(
  {
    FeedbackType: Id('kind of event, e.g. click, like, purchase'),
    UserId: Id('raw user id'),
    ItemId: Id('raw item id'),
    Value: Type.Optional(Type.Number({ description: 'rating or weight (default 1)' })),
    Timestamp: Type.Optional(Timestamp),
    Comment: GorseComment,
  },
  { additionalProperties: false },
);
export type FeedbackBody = Static<typeof Feedback>;

/** A batch of feedback. */
export const FeedbackBatch = Type.Array(Feedback, { minItems: 1, maxItems: MAX_BATCH });

/** Rows written by a batch write. */
export const RowAffected = Type.Object({ RowAffected: Type.Integer() });

/** A user. */
const Subscribe = Type.Optional(Type.Array(Text({ maxLength: MAX_ID }), { maxItems: 100, description: "Gorse's subscriptions: accepted, not stored" }));
export const User = Type.Object(
  { UserId: Id('raw user id'), Labels: Type.Optional(Labels), Comment: Type.Optional(Text({ maxLength: 4096 })), Subscribe },
  { additionalProperties: false },
);

/** A partial user update (Gorse's PATCH /api/user/{id}; gorsejs sends the whole user). */
export const UserPatch = Type.Object(
  { UserId: Type.Optional(Id('if given, must be the id in the path')), Labels: Type.Optional(Labels), Comment: Type.Optional(Text({ maxLength: 4096 })), Subscribe },
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
    Comment: Type.Optional(Text({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type ItemBody = Static<typeof Item>;

/** A partial item update. */
export const ItemPatch = Type.Object(
  {
    ItemId: Type.Optional(Id('if given, must be the id in the path (gorsejs sends the whole item)')),
    IsHidden: Type.Optional(Type.Boolean()),
    Categories: Type.Optional(Type.Array(Id('category'), { maxItems: 100 })),
    Labels: Type.Optional(Labels),
    Timestamp: Type.Optional(Timestamp),
    Comment: Type.Optional(Text({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type ItemPatchBody = Static<typeof ItemPatch>;

/** `{id}` path parameter. */
export const IdParam = Type.Object({ id: Id('raw id') });

/** Optional `{category}` path parameter (Gorse's `/popular/{category}` and friends). */
export const CategoryParams = Type.Object({ category: Type.Optional(Id('only items of this category')) });

/** `{id}` and an optional `{category}`. */
export const IdCategoryParams = Type.Object({ id: Id('raw id'), category: Type.Optional(Id('only items of this category')) });

/** `{id}` and a feedback type. */
export const IdTypeParams = Type.Object({ id: Id('raw id'), type: Id('feedback type') });

/** `{id}` and a category. */
export const ItemCategoryParams = Type.Object({ id: Id('raw item id'), category: Id('category') });

/** `{type}` of the feedback routes. */
export const TypeParam = Type.Object({ type: Id('feedback type') });

/** `{user}/{item}`, optionally with `{type}`, of the per-pair feedback routes. */
export const PairParams = Type.Object({ user: Id('raw user id'), item: Id('raw item id') });
export const TypedPairParams = Type.Object({ type: Id('feedback type'), user: Id('raw user id'), item: Id('raw item id') });

/** Paging of cursor listings (`Cursor` is how gorsejs spells it). */
export const CursorQuery = Type.Object({
  cursor: Type.Optional(Text({ maxLength: MAX_ID, description: 'cursor returned by the previous page' })),
  Cursor: Type.Optional(Text({ maxLength: MAX_ID, description: 'the same as cursor (gorsejs sends this spelling)' })),
  n: Type.Optional(Count(MAX_N, 100, 'page size')),
});

/** Paging of the feedback log: the cursor is a position in it. */
export const FeedbackCursorQuery = Type.Object({
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{0,18}$', description: 'cursor returned by the previous page' })),
  Cursor: Type.Optional(Type.String({ pattern: '^[0-9]{0,18}$', description: 'the same as cursor (gorsejs sends this spelling)' })),
  n: Type.Optional(Count(MAX_BATCH, 100, 'page size')),
});

/** Filters of every ranked list. */
export const ListQuery = Type.Object({
  n: Type.Optional(Count(MAX_N, 10, 'number of items')),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 0, description: 'items to skip', finiteInteger: true })),
  category: Type.Optional(Id('only items of this category')),
  exclude: Type.Optional(Text({ maxLength: 65_536, description: 'comma-separated item ids never to return' })),
  'user-id': Type.Optional(Id("drop items this user has interacted with (Gorse's user-id on popular and latest)")),
  format: Type.Optional(
    Type.Union([Type.Literal('gorse'), Type.Literal('reclab')], {
      description: "reclab: the richer answer {Strategy, Model, Items: [{ItemId, Score}]} instead of Gorse's shape (also: header Reclab-Format: reclab)",
    }),
  ),
});
export type ListQueryType = Static<typeof ListQuery>;

/** Filters of a user's recommendations. */
export const RecommendQuery = Type.Object({
  ...ListQuery.properties,
  seen: Type.Optional(Type.Boolean({ default: false, description: 'allow items the user already interacted with' })),
  'write-back-type': Type.Optional(Id('write the returned items back as feedback of this type (e.g. read)')),
  'write-back-delay': Type.Optional(Type.String({ format: 'go-duration', maxLength: 64, description: 'Go duration added to the write-back time, e.g. 10m' })),
});

/** The anonymous session posted to /api/session/recommend: events in time order. */
export const SessionBody = Type.Array(
  Type.Object(
    {
      ItemId: Id('raw item id'),
      FeedbackType: Type.Optional(Id('kind of event')),
      Value: Type.Optional(Type.Number()),
      Timestamp: Type.Optional(Timestamp),
      UserId: Type.Optional(Text({ maxLength: MAX_ID })),
    },
    { additionalProperties: false },
  ),
  { maxItems: MAX_BATCH },
);

/** Headers of a feedback write. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Id('a key unique to this write: a retry with the same key and body writes nothing twice')),
});

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

/** Gorse's scored item (popular, latest, neighbours, session). */
export const GorseScored = Type.Object({ Id: Type.String(), Score: Type.Number() });

/** A user's recommendation as Gorse returns it (item ids), or reclab's richer answer (opt-in). */
export const RecommendOut = Type.Union([Type.Array(Type.String()), Ranked]);

/** A ranked list as Gorse returns it, or reclab's richer answer (opt-in). */
export const ScoredOut = Type.Union([Type.Array(GorseScored), Ranked]);

/** A stored feedback event as returned. */
export const FeedbackOut = Type.Object({
  FeedbackType: Type.String(),
  UserId: Type.String(),
  ItemId: Type.String(),
  Value: Type.Number(),
  Timestamp: Type.String(),
  Comment: Type.String(),
});

/** A page of the feedback log, as Gorse returns it. */
export const FeedbackPage = Type.Object({ Cursor: Type.String(), Feedback: Type.Array(FeedbackOut) });

/** Online metrics as JSON (GET /metrics/online). */
export const OnlineOut = Type.Object({
  WindowSeconds: Type.Number(),
  Rows: Type.Array(
    Type.Object({ Model: Type.String(), Version: Type.String(), Strategy: Type.String(), Exposed: Type.Integer(), Positive: Type.Integer(), Rate: Type.Number() }),
  ),
});

/** Body of POST /api/model/retrain. */
export const RetrainBody = Type.Object(
  {
    Wait: Type.Optional(Type.Boolean({ description: 'answer when the retrain is done (default: 202 at once)' })),
    Control: Type.Optional(Type.Literal('shuffled', { description: "the gate's self-check: fit on shuffled feedback; it must be refused; never swapped" })),
  },
  { additionalProperties: false },
);

/** One retrain as recorded (GET /api/model/retrains, POST /api/model/retrain with Wait). */
export const RetrainRecordOut = Type.Object(
  {
    id: Type.Integer(),
    trigger: Type.String(),
    started: Type.String(),
    serving: Type.String(),
    outcome: Type.String({ description: 'accepted, refused, skipped, control or failed' }),
    reason: Type.String(),
    bundle: Type.Union([Type.String(), Type.Null()]),
    swapped: Type.Boolean(),
    figures: Type.Union([
      Type.Object({
        metric: Type.String(),
        candidate: Type.Number(),
        serving: Type.Number(),
        candidateRecall: Type.Number(),
        servingRecall: Type.Number(),
        users: Type.Integer(),
        holdoutEvents: Type.Integer(),
        trainEvents: Type.Integer(),
      }),
      Type.Null(),
    ]),
    newEvents: Type.Optional(Type.Integer()),
    storeSeq: Type.Optional(Type.Integer()),
    seconds: Type.Optional(Type.Number()),
  },
);

/** Gorse's health answer (its cache store is reclab's process memory: always connected). */
export const GorseHealth = Type.Object({
  Ready: Type.Boolean(),
  DataStoreError: Type.Union([Type.String(), Type.Null()]),
  CacheStoreError: Type.Union([Type.String(), Type.Null()]),
  DataStoreConnected: Type.Boolean(),
  CacheStoreConnected: Type.Boolean(),
});

/** A stored user as returned. */
export const UserOut = Type.Object({ UserId: Type.String(), Labels: Type.Array(Type.String()), Subscribe: Type.Array(Type.String()), Comment: Type.String() });

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
