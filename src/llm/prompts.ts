/**
 * Prompt templates live in files (`prompts/<name>.v<version>.md`), not in code, so they can be
 * read, diffed and versioned like data; every result records the `name@version` it used.
 *
 * File format: a YAML front matter (`name`, `version`, `description`) then one section per
 * message, introduced by a line `## system`, `## user` or `## assistant`. Placeholders are
 * `{{variable}}`; rendering fails on a placeholder with no value, so a prompt never goes out with
 * a hole in it.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { ChatMessage } from './types.ts';

/** Default folder of templates: `prompts/` at the package root (override with $RECLAB_PROMPTS). */
export const PROMPTS_DIR = process.env.RECLAB_PROMPTS ?? fileURLToPath(new URL('../../prompts/', import.meta.url));

/** A parsed template. */
export interface PromptTemplate {
  name: string;
  version: number;
  /** `name@version`, recorded with results. */
  id: string;
  description: string;
  /** Messages with `{{placeholders}}`. */
  messages: ChatMessage[];
  /** Placeholder names used. */
  variables: string[];
  path: string;
}

const SECTION = /^##\s+(system|user|assistant)\s*$/;
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Parses a template file's text (exported for tests). */
export function parsePrompt(text: string, path: string): PromptTemplate {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[0] !== '---') throw new Error(`${path}:1: a prompt template starts with a YAML front matter ('---')`);
  const end = lines.indexOf('---', 1);
  if (end < 0) throw new Error(`${path}:1: front matter is not closed by '---'`);
  const front = (parseYaml(lines.slice(1, end).join('\n')) ?? {}) as Record<string, unknown>;
  if (typeof front.name !== 'string' || !/^[a-z0-9-]+$/.test(front.name)) throw new Error(`${path}: front matter field "name" must be a lowercase slug`);
  if (!Number.isInteger(front.version) || (front.version as number) < 1) throw new Error(`${path}: front matter field "version" must be a positive integer`);
  const messages: ChatMessage[] = [];
  for (let i = end + 1; i < lines.length; i++) {
    const m = SECTION.exec(lines[i]);
    if (m) messages.push({ role: m[1] as ChatMessage['role'], content: '' });
    else if (messages.length) messages[messages.length - 1].content += `${lines[i]}\n`;
    else if (lines[i].trim()) throw new Error(`${path}:${i + 1}: text before the first '## system|user|assistant' section`);
  }
  if (!messages.some((m) => m.role === 'user')) throw new Error(`${path}: template has no '## user' section`);
  for (const m of messages) m.content = m.content.trim();
  const variables = [...new Set(messages.flatMap((m) => [...m.content.matchAll(PLACEHOLDER)].map((x) => x[1])))];
  const version = front.version as number;
  return { name: front.name, version, id: `${front.name}@${version}`, description: String(front.description ?? ''), messages, variables, path };
}

/**
 * Loads template `name` from `dir`: version `version`, or the highest version present.
 * Throws listing the available templates when none matches.
 */
export function loadPrompt(name: string, version?: number, dir: string = PROMPTS_DIR): PromptTemplate {
  if (!existsSync(dir)) throw new Error(`prompt folder ${dir} not found (set RECLAB_PROMPTS)`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.md'));
  const matching = files
    .map((f) => ({ f, m: /^(.+)\.v(\d+)\.md$/.exec(f) }))
    .filter((x) => x.m && x.m[1] === name && (version === undefined || Number(x.m[2]) === version))
    .sort((a, b) => Number(b.m![2]) - Number(a.m![2]));
  if (!matching.length) throw new Error(`prompt "${name}${version ? `@${version}` : ''}" not found in ${dir}; available: ${files.join(', ')}`);
  const path = join(dir, matching[0].f);
  const t = parsePrompt(readFileSync(path, 'utf8'), path);
  if (t.name !== name) throw new Error(`${path}: front matter name "${t.name}" differs from the file name`);
  return t;
}

/** Fills the placeholders of `template`. Throws naming any placeholder without a value. */
export function renderPrompt(template: PromptTemplate, vars: Record<string, string | number>): ChatMessage[] {
  const missing = template.variables.filter((v) => vars[v] === undefined);
  if (missing.length) throw new Error(`prompt ${template.id}: no value for ${missing.map((v) => `{{${v}}}`).join(', ')}`);
  return template.messages.map((m) => ({ role: m.role, content: m.content.replace(PLACEHOLDER, (_, v: string) => String(vars[v])) }));
}
