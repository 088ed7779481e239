/**
 * The replay provider: answers from a recording (the JSONL written by `LLMClient` with
 * `recordPath`), keyed by request hash, so an experiment run once against a real model can be
 * rerun — in CI, by a reviewer — without the model. A request that was never recorded is an
 * error naming the template, not a silent fallback.
 */
import { readFileSync } from 'node:fs';
import { requestHash } from '../cache.ts';
import type { ChatRequest, LLMProvider, ProviderReply } from '../types.ts';

/** One recorded call (the shape LLMClient appends). */
interface Recorded {
  hash: string;
  provider: string;
  tag?: string;
  reply: ProviderReply;
}

/** Serves recorded replies. Its `id` is the recorded provider's, so request hashes match the recording. */
export class ReplayProvider implements LLMProvider {
  readonly id: string;
  private readonly byHash = new Map<string, ProviderReply>();

  /** Loads `path`. When it holds several providers' calls, `providerId` picks one. */
  constructor(
    readonly path: string,
    providerId?: string,
  ) {
    const lines = readFileSync(path, 'utf8').split('\n');
    const ids = new Set<string>();
    const rows: Recorded[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let row: Recorded;
      try {
        row = JSON.parse(line) as Recorded;
      } catch (e) {
        throw new Error(`${path}:${i + 1}: invalid JSON (${(e as Error).message})`);
      }
      if (typeof row.hash !== 'string' || typeof row.provider !== 'string' || typeof row.reply?.text !== 'string') {
        throw new Error(`${path}:${i + 1}: a recorded call needs string fields "hash", "provider" and "reply.text"`);
      }
      ids.add(row.provider);
      rows.push(row);
    });
    if (providerId === undefined) {
      if (ids.size > 1) throw new Error(`${path}: recording holds several providers (${[...ids].join(', ')}); choose one`);
      providerId = ids.values().next().value ?? 'replay:empty';
    }
    this.id = providerId;
    for (const row of rows) if (row.provider === providerId) this.byHash.set(row.hash, row.reply);
  }

  /** Number of recorded replies available. */
  get size(): number {
    return this.byHash.size;
  }

  async complete(request: ChatRequest): Promise<ProviderReply> {
    const hash = requestHash(this.id, request);
    const reply = this.byHash.get(hash);
    if (!reply) throw new Error(`${this.path}: no recorded reply for request ${hash.slice(0, 12)}… (template ${request.tag ?? 'untagged'}); record it first against a real model`);
    return reply;
  }
}
