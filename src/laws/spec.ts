/**
 * The sweep's YAML file (examples/law-*.yaml): one schema gives validation and types. Errors
 * name the file, the key and the reason; `--set key=value` flags override keys before validation.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';
import { firstIssue } from '../util/schema.ts';

const posInt = z.number().int().positive();

/** The schema of a sweep file. Paths are relative to the working directory. */
export const SweepFileSchema = z
  .object({
    name: z.string().min(1).optional(),
    dataset: z
      .object({
        path: z.string().min(1),
        /** A reader format (see `reclab data`), or `auto`. */
        format: z.string().default('auto'),
      })
      .strict(),
    split: z.enum(['loo']).default('loo'),
    model: z.string().min(1),
    config: z.record(z.string(), z.unknown()).default({}),
    layersKey: z.string().default('layers'),
    hiddenKey: z.string().default('hidden'),
    grid: z
      .object({
        layers: z.array(posInt).min(1),
        hidden: z.array(posInt).min(1),
        fractions: z.array(z.number().gt(0).lte(1)).min(1).default([1]),
        seeds: z.array(z.number().int()).min(1).default([0]),
      })
      .strict(),
    protocol: z.string().default('uni100'),
    metrics: z.array(z.string()).min(1).default(['ndcg@10', 'hr@10']),
    validEvery: z.number().int().min(0).default(0),
    maxEvalUsers: posInt.optional(),
    apen: z.object({ m: posInt.optional(), r: z.number().min(0).optional(), maxLen: posInt.optional() }).strict().optional(),
    /** Results file (JSONL): the sweep's state. */
    out: z.string().min(1),
    /** After the sweep: fit the law to this metric and write the report here. */
    fit: z.object({ metric: z.string().default('ndcg@10'), outDir: z.string().min(1), loco: z.boolean().default(true) }).strict().optional(),
  })
  .strict();

export type SweepFile = z.infer<typeof SweepFileSchema>;

/** Sets `path` (dot-separated) in a plain object to `value`, creating objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== 'object' || node[k] === null || Array.isArray(node[k])) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/**
 * Reads and validates a sweep file. `overrides` are `key=value` strings (value parsed as YAML,
 * so `grid.layers=[1,2]` and `config.epochs=5` work).
 */
export function loadSweepFile(path: string, overrides: readonly string[] = []): SweepFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${path}: cannot read: ${(error as Error).message}`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new Error(`${path}:${e.linePos?.[0].line ?? 0}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${path}: expected a mapping of keys at the top level`);
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new Error(`--set ${o}: expected key=value`);
    setPath(raw, o.slice(0, eq), parseYaml(o.slice(eq + 1)));
  }
  const parsed = SweepFileSchema.safeParse(raw);
  if (!parsed.success) {
    const { key, message } = firstIssue(parsed.error, SweepFileSchema);
    throw new Error(`${path}: key "${key || '(top level)'}": ${message}`);
  }
  return parsed.data;
}
