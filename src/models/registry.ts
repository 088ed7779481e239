/**
 * The model registry: one entry per model, so configs, the CLI, the runner and the server can
 * create a model by name or load a saved one. Add one line to {@link ENTRIES} per model.
 */
import type { z } from 'zod';
import type { Recommender } from './recommender.ts';
import { readCheckpointMeta } from './checkpoint.ts';
import { popEntry } from './pop.ts';
import { easeEntry } from './ease.ts';
import { itemKnnEntry } from './itemknn.ts';
import { userKnnEntry } from './userknn.ts';
import { bprEntry } from './bpr.ts';
import { ialsEntry } from './ials.ts';
import { transitionEntry } from './transition.ts';
import { directAuEntry } from './directau.ts';
import { sasrecEntry } from './sasrec.ts';
import { lightGcnEntry } from './lightgcn.ts';
import { hstuEntry } from './hstu.ts';
import { bert4recEntry } from './bert4rec.ts';
import { gru4recEntry } from './gru4rec.ts';
import { tigerEntry } from './genret/tiger.ts';

/** How to create and load one kind of model. */
export interface ModelEntry {
  /** Registry name used in configs and checkpoints (lowercase, e.g. `ease`). */
  name: string;
  /** One line for `reclab models` and docs. */
  description: string;
  /**
   * The config schema (zod, strict): the keys, their types, ranges, defaults and error texts.
   * `create` parses with it; `reclab models` and docs/models.md print it. Every built-in model
   * has one; a model registered by a test or plugin may leave it out.
   */
  configSchema?: z.ZodObject;
  /** True for models that score raw item sequences (SequentialRecommender). */
  sequential: boolean;
  /** A new untrained model; unknown config keys are an error, missing ones take defaults. */
  create(config: Record<string, unknown>): Recommender;
  /** Loads a model saved with `save(dir)`. */
  load(dir: string): Promise<Recommender>;
}

const ENTRIES: ModelEntry[] = [
  // one line per model, e.g. popEntry,
  popEntry,
  easeEntry,
  itemKnnEntry,
  userKnnEntry,
  bprEntry,
  ialsEntry,
  transitionEntry,
  directAuEntry,
  sasrecEntry,
  lightGcnEntry,
  hstuEntry,
  bert4recEntry,
  gru4recEntry,
  tigerEntry,
];

const BY_NAME = new Map<string, ModelEntry>();
for (const entry of ENTRIES) registerModel(entry);

/** Adds a model kind (used by ENTRIES, and by tests or plugins). Throws if the name is taken. */
export function registerModel(entry: ModelEntry): void {
  if (BY_NAME.has(entry.name)) throw new Error(`model "${entry.name}" is already registered`);
  BY_NAME.set(entry.name, entry);
}

/** All registered model kinds, in registration order. */
export function listModels(): ModelEntry[] {
  return [...BY_NAME.values()];
}

/** The entry for `name`, or a clear error listing the known names. */
export function modelEntry(name: string): ModelEntry {
  const entry = BY_NAME.get(name.toLowerCase());
  if (!entry) throw new Error(`unknown model "${name}"; known models: ${[...BY_NAME.keys()].join(', ') || '(none)'}`);
  return entry;
}

/** Creates an untrained model by registry name. */
export function createModel(name: string, config: Record<string, unknown> = {}): Recommender {
  return modelEntry(name).create(config);
}

/** Loads any saved model from its directory, dispatching on the name in model.json. */
export async function loadModel(dir: string): Promise<Recommender> {
  const meta = await readCheckpointMeta(dir);
  return modelEntry(meta.name).load(dir);
}
