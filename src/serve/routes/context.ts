/**
 * What every route group is given: the store, the model slot, the engine and catalogue built over
 * them, the metrics, and the cluster-wide model swap. Route groups are plain functions over an
 * encapsulated Fastify scope (see app.ts), so the scope's hooks — authentication and rate
 * limiting — apply to every route they add, whatever the spelling of the URL that reached it.
 */
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Store } from '../store.ts';
import type { ModelSlot } from '../slot.ts';
import type { Engine } from '../engine.ts';
import type { Catalog } from '../catalog.ts';
import type { ServeMetrics } from '../metrics.ts';
import type { OnlineMetrics } from '../online.ts';
import type { RetrainControl } from '../retrain.ts';
import * as S from '../schemas.ts';

/** A Fastify scope with TypeBox type inference. */
export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** Dependencies of the route groups. */
export interface ServeContext {
  store: Store;
  slot: ModelSlot;
  engine: Engine;
  catalog: Catalog;
  metrics: ServeMetrics;
  /** Positive-feedback rate of recommended items per model version and strategy. */
  online: OnlineMetrics;
  /** The retrain loop, when this process runs it. */
  retrainer?: RetrainControl;
  /** Swaps the served model on every replica this service coordinates (one process: just here). */
  swapEverywhere(name?: string): Promise<void>;
}

/** OpenAPI tag of a route. */
export const tag = (t: string) => ({ tags: [t] });

/** Error responses every /api route may give. */
export const errors = { 400: S.ErrorOut, 401: S.ErrorOut, 404: S.ErrorOut, 429: S.ErrorOut, 503: S.ErrorOut };
