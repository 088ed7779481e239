/**
 * Experiment configs: one YAML file → a validated {@link ExperimentConfig}. The zod schema is the
 * single source of truth for the type; every error names the file, the key path and the reason.
 * `--key=value` overrides (dotted paths, values parsed as YAML) are applied before validation, so
 * they are checked exactly like the file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { parseMetric } from './metrics.ts';
import { parseProtocol } from './protocol.ts';
import { firstIssue } from '../util/schema.ts';

const metricName = z.string().superRefine((s, ctx) => {
  try {
    parseMetric(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const hyper = z.record(z.string(), z.unknown());

/** One model of an experiment. */
const modelSchema = z
  .object({
    /** Registry name (`pop`, `itemknn`, `ease`, `bpr`, `sasrec`, …). */
    name: z.string().min(1),
    /** Row label in the table (default: the name, plus the grid point when there is a grid). */
    label: z.string().optional(),
    /** Fixed hyperparameters. */
    config: hyper.default({}),
    /** Hyperparameters to search: each key lists the values to try (full grid). */
    grid: z.record(z.string(), z.array(z.unknown()).min(1)).default({}),
  })
  .strict();

/** The schema of an experiment file. */
export const experimentSchema = z
  .object({
    /** Experiment name; results go to `<output>/<name>-<timestamp>/`. */
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only'),
    description: z.string().optional(),
    /** What `loadDataset` reads: a path (relative to the config file) or registry name, and reader options. */
    data: z.object({ source: z.string().min(1), format: z.string().default('auto') }).catchall(z.unknown()),
    /** Preparation before splitting. */
    prepare: z
      .object({
        dedup: z.enum(['first', 'last', 'all']).optional(),
        minRating: z.number().optional(),
        kCore: z.union([z.number().int().nonnegative(), z.object({ user: z.number().int().nonnegative(), item: z.number().int().nonnegative() })]).optional(),
        minSeqLen: z.number().int().nonnegative().optional(),
      })
      .strict()
      .default({}),
    split: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('loo'), valid: z.boolean().optional() }).strict(),
        z.object({ kind: z.literal('temporal'), quantile: z.number().optional(), validQuantile: z.number().optional(), date: z.string().optional() }).strict(),
        z.object({ kind: z.literal('ratio'), train: z.number(), valid: z.number(), order: z.enum(['random', 'time']).optional(), seed: z.number().int().optional() }).strict(),
      ])
      .default({ kind: 'loo' }),
    /** `full`, `uniN`, `popN`. */
    protocol: z
      .string()
      .default('full')
      .superRefine((s, ctx) => {
        if (s.trim().toLowerCase() === 'rerank') return ctx.addIssue({ code: 'custom', message: 'rerank needs candidate lists: use `reclab eval --candidates` instead' });
        try {
          parseProtocol(s);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
    ties: z.enum(['pessimistic', 'optimistic']).default('pessimistic'),
    /** Test metrics shown in the table. */
    metrics: z.array(metricName).min(1),
    /** Metric for early stopping and grid selection, on the validation split (default: the first per-user metric). */
    validMetric: metricName.optional(),
    /** Evaluations without improvement before stopping. */
    patience: z.number().int().positive().default(5),
    /** Validate every N epochs. */
    evalEvery: z.number().int().positive().default(1),
    /** Model whose per-user values the others are tested against (registry name or label; default: the first model). */
    baseline: z.string().optional(),
    /** Metric tested for significance (default: validMetric). */
    significanceMetric: metricName.optional(),
    /** Seeds: every model is trained once per seed; the table shows mean ± std. */
    seeds: z.array(z.number().int()).min(1).default([0]),
    models: z.array(modelSchema).min(1),
    /** Results folder (relative to the working directory). */
    output: z.string().default('runs'),
    /** Save each model's chosen configuration (first seed) under `<run>/models/<label>/` for `reclab eval --model`. */
    saveModels: z.boolean().default(false),
    /** Item side column (token list such as genres, or a vector) for `ild@k`. */
    features: z.string().optional(),
    /**
     * Evaluate a seeded sample of at most this many users per stage (the same users for every
     * model; validation seeded with the first seed, test with it + 1) instead of all: for models
     * whose scoring is too dear to run on every user (generative retrieval's beam search).
     */
    maxEvalUsers: z.number().int().positive().optional(),
    /** Users per scoring block. */
    blockSize: z.number().int().positive().default(256),
  })
  .strict();

/** A validated experiment. */
export type ExperimentConfig = z.infer<typeof experimentSchema>;
/** One model entry of an experiment. */
export type ModelSpec = z.infer<typeof modelSchema>;

/** An error in an experiment file: file, key path, reason. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${file}: ${key ? `key "${key}": ` : ''}${reason}`);
    this.name = 'ConfigError';
  }
}

/**
 * Applies `key=value` overrides to a parsed document: `key` is a dotted path (`models.1.grid.k`,
 * `seeds`), `value` is parsed as YAML (`--seeds=[0,1,2]`, `--patience=3`, `--protocol=uni100`).
 */
export function applyOverrides(doc: Record<string, unknown>, overrides: readonly string[], file = '<overrides>'): Record<string, unknown> {
  for (const o of overrides) {
    const text = o.replace(/^--/, '');
    const eq = text.indexOf('=');
    if (eq <= 0) throw new ConfigError(file, text, 'override must look like --key=value');
    const path = text.slice(0, eq).split('.');
    let value: unknown;
    try {
      value = parseYaml(text.slice(eq + 1));
    } catch {
      value = text.slice(eq + 1);
    }
    let node: Record<string, unknown> = doc;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node[path[i]];
      if (next === undefined || next === null || typeof next !== 'object') {
        if (next !== undefined) throw new ConfigError(file, path.slice(0, i + 1).join('.'), 'is not a mapping or list; cannot set a key inside it');
        node[path[i]] = {};
      }
      node = node[path[i]] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return doc;
}

/** Validates a parsed document, turning the first zod issue into a {@link ConfigError}. */
export function validateExperiment(doc: unknown, file: string): ExperimentConfig {
  const r = experimentSchema.safeParse(doc);
  if (!r.success) {
    const { key, message } = firstIssue(r.error, experimentSchema);
    throw new ConfigError(file, key, message);
  }
  return r.data;
}

/** Reads, overrides and validates an experiment file. */
export function loadExperiment(path: string, overrides: readonly string[] = []): ExperimentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, '', `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const line = e.linePos?.[0]?.line;
      throw new ConfigError(line ? `${path}:${line}` : path, '', `invalid YAML: ${e.message.split('\n')[0]}`);
    }
    throw e;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(path, '', 'expected a mapping at the top level');
  return validateExperiment(applyOverrides(doc as Record<string, unknown>, overrides, path), path);
}

/** All grid points of a model: the cartesian product of its grid lists merged over its config. */
export function gridPoints(model: ModelSpec): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{ ...model.config }];
  for (const [key, values] of Object.entries(model.grid)) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points;
}
