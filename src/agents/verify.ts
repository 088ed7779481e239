/**
 * The rule layer of tool calls (ToolACE's rule checker, METHODS.md §8): before a call runs it must
 * name a tool that exists, its arguments must fit the tool's schema — every required field
 * present, no unknown field, types right, values in range — and every id it names must exist.
 * A call that fails any rule does not run; the agent gets a structured error back instead.
 *
 * The error kinds are the statistics reported per run (call validity by kind).
 */
import type { z } from 'zod';
import type { IdResolver, ToolSet } from './tools.ts';

/** Why a call was rejected (or `unparseable`: the reply was not an action at all). */
export const ERROR_KINDS = ['unparseable', 'unknown_tool', 'missing_argument', 'unknown_argument', 'wrong_type', 'out_of_range', 'unknown_id', 'invalid_answer', 'tool_failed'] as const;
export type CallErrorKind = (typeof ERROR_KINDS)[number];

/** A structured error returned to the agent in place of a result. */
export interface CallError {
  kind: CallErrorKind;
  /** The argument at fault, when one is (dotted path). */
  field?: string;
  message: string;
}

/** A call as the model wrote it. */
export interface RawCall {
  tool: string;
  args: unknown;
}

/** Outcome of checking one call. */
export type CheckedCall = { ok: true; args: unknown } | { ok: false; error: CallError };

/** Maps a zod issue to the rule it breaks. */
function issueKind(issue: z.core.$ZodIssue, input: unknown): CallErrorKind {
  // A field the schema wants but the call left out (zod says "invalid type" or "invalid union").
  if (issue.path.length && valueAt(input, issue.path) === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) return 'missing_argument';
  switch (issue.code) {
    case 'invalid_type':
    case 'unrecognized_keys':
      return 'unknown_argument';
    case 'too_small':
    case 'too_big':
    case 'invalid_value':
    case 'not_multiple_of':
      return 'out_of_range';
    case 'invalid_union':
      // A union of types (an id as string or integer): the value had neither type.
      return 'wrong_type';
    default:
      return 'wrong_type';
  }
}

/** The value at `path` inside `input` (undefined when any step is missing). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Checks `call` against `tools` and, for id fields, `ids`. The first broken rule is reported. */
export function checkCall(tools: ToolSet, call: RawCall, ids?: IdResolver): CheckedCall {
  const tool = tools.get(call.tool);
  if (!tool) return { ok: false, error: { kind: 'unknown_tool', message: `no tool "${call.tool}"; tools: ${tools.names.join(', ')}` } };
  const input = call.args ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) return { ok: false, error: { kind: 'wrong_type', message: `${tool.name}: arguments must be an object, got ${Array.isArray(input) ? 'an array' : typeof input}` } };
  const parsed = tool.args.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length ? issue.path.join('.') : issue.code === 'unrecognized_keys' ? issue.keys.join(',') : undefined;
    return { ok: false, error: { kind: issueKind(issue, input), ...(field ? { field } : {}), message: `${tool.name}: ${field ? `argument "${field}": ` : ''}${issue.message}` } };
  }
  if (tool.ids && ids) {
    const args = parsed.data as Record<string, unknown>;
    for (const [field, kind] of Object.entries(tool.ids)) {
      const v = args[field];
      if (v === undefined) continue;
      for (const raw of Array.isArray(v) ? v : [v]) {
        if (!ids.exists(kind, String(raw))) return { ok: false, error: { kind: 'unknown_id', field, message: `${tool.name}: argument "${field}": no ${kind} with id ${JSON.stringify(raw)}` } };
      }
    }
  }
  return { ok: true, args: parsed.data };
}

/** Per-run counts of calls: valid, and rejected by kind. */
export class CallStats {
  calls = 0;
  valid = 0;
  readonly errors: Record<CallErrorKind, number> = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<CallErrorKind, number>;

  /** Counts one call: `null` for valid, else its error kind. */
  record(error: CallErrorKind | null): void {
    this.calls++;
    if (error === null) this.valid++;
    else this.errors[error]++;
  }

  /** Adds another run's counts. */
  merge(other: CallStats): this {
    this.calls += other.calls;
    this.valid += other.valid;
    for (const k of ERROR_KINDS) this.errors[k] += other.errors[k];
    return this;
  }

  /** Share of valid calls (NaN with no call). */
  get validity(): number {
    return this.calls ? this.valid / this.calls : NaN;
  }

  toJSON(): { calls: number; valid: number; validity: number | null; errors: Partial<Record<CallErrorKind, number>> } {
    const errors: Partial<Record<CallErrorKind, number>> = {};
    for (const k of ERROR_KINDS) if (this.errors[k]) errors[k] = this.errors[k];
    return { calls: this.calls, valid: this.valid, validity: this.calls ? this.valid / this.calls : null, errors };
  }

  /** One line: `12 calls, 7 valid (58.3 %); rejected: unknown_tool 2, wrong_type 3`. */
  format(): string {
    const rejected = ERROR_KINDS.filter((k) => this.errors[k]).map((k) => `${k} ${this.errors[k]}`);
    const pct = this.calls ? ` (${((100 * this.valid) / this.calls).toFixed(1)} %)` : '';
    return `${this.calls} calls, ${this.valid} valid${pct}${rejected.length ? `; rejected: ${rejected.join(', ')}` : ''}`;
  }
}
