/**
 * The on-disk response cache: one JSON file per request, named by the request hash, so a rerun of
 * an experiment (or a test with a recorded judge) costs nothing and returns byte-identical answers.
 * Writes go to a temporary file and are renamed into place, so an interrupted run never leaves a
 * half-written entry behind.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatRequest, ProviderReply } from './types.ts';

/** JSON with object keys sorted, so equal requests hash equally whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * SHA-256 (hex) of everything that determines a reply: the provider identity and what is sent.
 * `tag` and `meta` are left out: the rendered messages already carry the template's content.
 */
export function requestHash(providerId: string, request: ChatRequest): string {
  const keyed = {
    provider: providerId,
    messages: request.messages,
    temperature: request.temperature ?? 0,
    maxTokens: request.maxTokens ?? 512,
    seed: request.seed,
    schema: request.schema,
  };
  return createHash('sha256').update(canonicalJson(keyed)).digest('hex');
}

/** A stored reply. */
export interface CacheEntry {
  hash: string;
  provider: string;
  tag?: string;
  reply: ProviderReply;
  /** Latency of the original call, ms. */
  latencyMs: number;
  createdAt: string;
}

/** Disk cache under `dir`: `<dir>/<hash[0..2]>/<hash>.json`. */
export class ResponseCache {
  constructor(readonly dir: string) {}

  private path(hash: string): string {
    return join(this.dir, hash.slice(0, 2), `${hash}.json`);
  }

  /** The stored entry for `hash`, or undefined. A corrupt entry is treated as a miss. */
  async get(hash: string): Promise<CacheEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(hash), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const entry = JSON.parse(text) as CacheEntry;
      return entry.hash === hash && typeof entry.reply?.text === 'string' ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores `entry` atomically. */
  async put(entry: CacheEntry): Promise<void> {
    const path = this.path(entry.hash);
    await mkdir(join(this.dir, entry.hash.slice(0, 2)), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, `${JSON.stringify(entry)}\n`);
    await rename(tmp, path);
  }
}
