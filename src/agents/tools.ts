/**
 * Typed tools an agent may call. A tool is a name, a description the model reads, a zod schema of
 * its arguments (the schema is the type, the JSON schema shown to the model and the error text),
 * the argument fields that name catalogue ids (checked for existence before the tool runs), and
 * the function that runs it.
 */
import { z } from 'zod';

/** Which id space an argument names: the rule layer asks the {@link IdResolver} whether it exists. */
export type IdKind = 'user' | 'item';

/** Tells whether a raw id exists (the dataset's `IdMap`s behind it). */
export interface IdResolver {
  exists(kind: IdKind, raw: string): boolean;
}

/** One tool. `TArgs` is the parsed argument type. */
export interface Tool<TArgs = unknown> {
  name: string;
  /** One or two sentences the model reads. */
  description: string;
  /** Arguments as a zod object (strict: unknown keys are a schema violation). */
  args: z.ZodType<TArgs>;
  /** Argument fields holding ids, with their kind: a single id or a list of ids. */
  ids?: Record<string, IdKind>;
  /** Runs the call on validated arguments; the result is shown to the model as JSON. */
  run(args: TArgs): Promise<unknown> | unknown;
}

/**
 * Defines a tool with its argument type inferred from the schema. The result is erased to
 * `Tool<unknown>` so tools of different argument types share one list; the rule layer guarantees
 * `run` only ever sees arguments its schema parsed.
 */
export function defineTool<S extends z.ZodType>(tool: Omit<Tool<z.output<S>>, 'args'> & { args: S }): Tool {
  return { ...tool, run: (args: unknown) => tool.run(args as z.output<S>) };
}

/** A raw id as models write it: a string or an integer (converted to the string form `IdMap`s keep). */
export const RawId = z.union([z.string().min(1), z.number().int()]).transform(String);

/** A set of tools by name. */
export class ToolSet {
  private readonly byName = new Map<string, Tool>();

  constructor(tools: readonly Tool[] = []) {
    for (const t of tools) this.add(t);
  }

  /** Adds a tool; a second tool of the same name is an error. */
  add<T>(tool: Tool<T>): this {
    if (this.byName.has(tool.name)) throw new Error(`ToolSet: tool "${tool.name}" defined twice`);
    this.byName.set(tool.name, tool as unknown as Tool);
    return this;
  }

  get(name: string): Tool | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** The tool list as the model reads it: `name(args JSON schema): description` per line. */
  describe(): string {
    return [...this.byName.values()]
      .map((t) => {
        const schema = z.toJSONSchema(t.args, { target: 'draft-7', io: 'input' }) as { properties?: Record<string, unknown>; required?: string[] };
        const props = Object.entries(schema.properties ?? {}).map(([k, v]) => `${k}${schema.required?.includes(k) ? '' : '?'}: ${shortType(v)}`);
        return `- ${t.name}(${props.join(', ')}): ${t.description}`;
      })
      .join('\n');
  }
}

/** A compact type name of a JSON-schema property, for the tool list. */
function shortType(p: unknown): string {
  const s = p as { type?: string | string[]; items?: unknown; anyOf?: unknown[]; enum?: unknown[]; minimum?: number; maximum?: number };
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join('|');
  if (s.anyOf) return s.anyOf.map(shortType).join('|');
  if (s.type === 'array') return `${shortType(s.items)}[]`;
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` in [${s.minimum ?? '-∞'}, ${s.maximum ?? '∞'}]` : '';
  return `${Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any')}${range}`;
}
