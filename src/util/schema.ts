/**
 * Schema parsing helpers: the one place that turns a zod failure into words, so every config —
 * model hyperparameters, experiment files, law sweeps, LLM replies — reports a bad value the same
 * way (the key's dotted path, then the reason), and the one place that reads a schema back as a
 * table of keys, types, defaults and ranges (for `reclab models` and docs/models.md).
 */
import { z } from 'zod';

/** The first issue of a failed parse: its dotted key ('' at the root) and reason. */
export interface SchemaIssue {
  key: string;
  message: string;
}

/**
 * The first issue of `error` as key + reason. Unknown keys (zod's `unrecognized_keys`, raised at
 * the object that holds them) are reported at the unknown key itself, with the keys that exist.
 */
export function firstIssue(error: z.ZodError, schema?: z.ZodType): SchemaIssue {
  const issue = error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const known = schema instanceof z.ZodObject && path.length === 0 ? Object.keys(schema.shape) : [];
    const key = [...path, issue.keys[0]].join('.');
    return { key, message: `unknown key${known.length ? `; known keys: ${known.join(', ')}` : ''}` };
  }
  return { key: path.join('.'), message: issue.message };
}

/** A short account of every issue (up to five): `key: reason; …` (`(root)` for the top level). */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Parses a model's config with its schema: missing keys take their defaults, unknown keys and
 * bad values throw `<model> config: key "<key>": <reason>`.
 */
export function parseConfig<S extends z.ZodType>(model: string, schema: S, given: unknown): z.infer<S> {
  const r = schema.safeParse(given ?? {});
  if (r.success) return r.data;
  const { key, message } = firstIssue(r.error, schema);
  throw new Error(`${model} config: key "${key || '(root)'}": ${message}`);
}

/** One key of a config schema, as `reclab models` prints it. */
export interface SchemaKey {
  key: string;
  /** `number`, `integer`, `boolean`, `string`, or the allowed values `a | b`. */
  type: string;
  default: unknown;
  /** Range and other constraints in words, e.g. `> 0`, `0 … 1`. */
  range: string;
  description: string;
}

/** Reads the keys of an object schema (through its JSON Schema) with types, defaults and ranges. */
export function schemaKeys(schema: z.ZodObject): SchemaKey[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, Record<string, unknown>> };
  return Object.entries(json.properties ?? {}).map(([key, p]) => {
    const range: string[] = [];
    if (p.exclusiveMinimum !== undefined) range.push(`> ${String(p.exclusiveMinimum)}`);
    if (p.minimum !== undefined && p.minimum !== Number.MIN_SAFE_INTEGER) range.push(`≥ ${String(p.minimum)}`);
    if (p.exclusiveMaximum !== undefined) range.push(`< ${String(p.exclusiveMaximum)}`);
    if (p.maximum !== undefined && p.maximum !== Number.MAX_SAFE_INTEGER) range.push(`≤ ${String(p.maximum)}`);
    const type = Array.isArray(p.enum) ? p.enum.join(' | ') : String(p.type ?? 'any');
    return { key, type, default: p.default, range: range.join(', '), description: String(p.description ?? '') };
  });
}
