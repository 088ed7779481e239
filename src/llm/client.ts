/**
 * `LLMClient`: the one door to every language model in reclab. It wraps a provider with
 *
 * - a disk cache keyed by request hash (reruns are free and reproducible),
 * - a recording log (JSONL) that the replay provider can serve later without the model,
 * - accounting of tokens, cost, latency, retries and repairs, per prompt template,
 * - a concurrency limit and an optional minimum spacing between calls (rate limit),
 * - retries with exponential backoff (honouring Retry-After) on 429, 408, 5xx and lost connections,
 * - structured output: the reply is parsed and validated against a zod schema; an invalid reply
 *   gets exactly one repair request that quotes the validation error back to the model.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ResponseCache, requestHash } from './cache.ts';
import { UsageLedger, estimateTokens, type Pricing } from './accounting.ts';
import { LLMHttpError, LLMOutputError, type ChatMessage, type ChatRequest, type LLMProvider, type ProviderReply, type TokenUsage } from './types.ts';
import { describeZodError } from '../util/schema.ts';

/** Options of {@link LLMClient}. */
export interface LLMClientOptions {
  /** Directory of the response cache; no caching when absent. */
  cacheDir?: string;
  /** Append every provider reply to this JSONL file (input of the replay provider). */
  recordPath?: string;
  /** Prices for cost accounting (default: free, e.g. a local server). */
  pricing?: Pricing;
  /** Maximum calls in flight (default 4). */
  concurrency?: number;
  /** Minimum time between the starts of two provider calls, ms (default 0). */
  minIntervalMs?: number;
  /** Retries after a retryable failure (default 4). */
  maxRetries?: number;
  /** First backoff delay, ms; doubles each retry, with ±25 % jitter (default 500). */
  backoffBaseMs?: number;
  /** Cap on one backoff delay, ms (default 30 000). */
  backoffMaxMs?: number;
  /** Waits `ms` (injectable so tests need not sleep). */
  sleep?: (ms: number) => Promise<void>;
}

/** One answered request. */
export interface ChatResult {
  text: string;
  usage: TokenUsage;
  /** Provider latency in ms (that of the original call when cached). */
  latencyMs: number;
  cached: boolean;
  /** Request hash (cache key). */
  hash: string;
  tag?: string;
  provider: string;
}

/** A validated structured reply. */
export interface JsonResult<T> {
  value: T;
  /** The call that produced the valid reply. */
  result: ChatResult;
  /** True when the first reply was invalid and the repair request fixed it. */
  repaired: boolean;
}

/** Outcome of {@link LLMClient.tryJson}: either a value or the reason there is none. */
export type TryJson<T> = ({ ok: true } & JsonResult<T>) | { ok: false; error: string; text: string };

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Limits concurrent work to `limit` slots (FIFO). */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Extracts the JSON value of a model reply: the whole text, else the inside of a ```json fence,
 * else the outermost {...} span (models like to wrap JSON in prose).
 */
export function extractJson(text: string): unknown {
  const attempts = [text.trim()];
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence) attempts.push(fence[1].trim());
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  if (open >= 0 && close > open) attempts.push(text.slice(open, close + 1));
  let lastError = 'empty reply';
  for (const candidate of attempts) {
    if (!candidate) continue;
    try {
      return JSON.parse(candidate);
    } catch (e) {
      lastError = (e as Error).message;
    }
  }
  throw new SyntaxError(`reply is not JSON (${lastError})`);
}

/** A short human-readable account of a zod validation failure (the one helper, re-exported). */
export { describeZodError };

/** Adds the schema instruction to the last user message so models without native structured output still know the shape. */
function withSchemaInstruction(messages: ChatMessage[], schema: Record<string, unknown>): ChatMessage[] {
  const out = messages.map((m) => ({ ...m }));
  const note = `\n\nAnswer with one JSON object only, matching this JSON schema:\n${JSON.stringify(schema)}`;
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i].role === 'user') {
      out[i].content += note;
      return out;
    }
  }
  out.push({ role: 'user', content: note.trim() });
  return out;
}

/** The cached, counted, rate-limited, retrying client over one provider. */
export class LLMClient {
  readonly ledger: UsageLedger;
  private readonly cache?: ResponseCache;
  private readonly semaphore: Semaphore;
  private readonly opts: Required<Omit<LLMClientOptions, 'cacheDir' | 'recordPath' | 'pricing'>> & Pick<LLMClientOptions, 'recordPath'>;
  private nextStart = 0;

  constructor(
    readonly provider: LLMProvider,
    options: LLMClientOptions = {},
  ) {
    this.ledger = new UsageLedger(options.pricing);
    if (options.cacheDir) this.cache = new ResponseCache(options.cacheDir);
    this.opts = {
      concurrency: options.concurrency ?? 4,
      minIntervalMs: options.minIntervalMs ?? 0,
      maxRetries: options.maxRetries ?? 4,
      backoffBaseMs: options.backoffBaseMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 30_000,
      sleep: options.sleep ?? sleepReal,
      recordPath: options.recordPath,
    };
    if (!(this.opts.concurrency >= 1)) throw new Error(`LLMClient: concurrency must be ≥ 1, got ${this.opts.concurrency}`);
    this.semaphore = new Semaphore(this.opts.concurrency);
  }

  /** Sends a chat request (through cache, limiter and retries) and returns the text reply. */
  async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    const hash = requestHash(this.provider.id, request);
    if (this.cache) {
      const hit = await this.cache.get(hash);
      if (hit) {
        const usage = hit.reply.usage ?? this.estimate(request, hit.reply.text);
        this.ledger.recordCall(request.tag, usage, hit.latencyMs, true);
        return { text: hit.reply.text, usage, latencyMs: hit.latencyMs, cached: true, hash, tag: request.tag, provider: this.provider.id };
      }
    }
    const { reply, latencyMs } = await this.semaphore.run(() => this.callWithRetries(request, signal));
    const usage = reply.usage ?? this.estimate(request, reply.text);
    this.ledger.recordCall(request.tag, usage, latencyMs, false);
    const entry = { hash, provider: this.provider.id, tag: request.tag, reply: { ...reply, usage }, latencyMs, createdAt: new Date().toISOString() };
    if (this.cache) await this.cache.put(entry);
    if (this.opts.recordPath) {
      await mkdir(dirname(this.opts.recordPath), { recursive: true });
      await appendFile(this.opts.recordPath, `${JSON.stringify(entry)}\n`);
    }
    return { text: reply.text, usage, latencyMs, cached: false, hash, tag: request.tag, provider: this.provider.id };
  }

  /**
   * Asks for a JSON reply valid against `schema`. The JSON schema (from zod) is sent to the
   * provider and spelled out in the prompt; an invalid reply gets one repair request quoting the
   * error. Throws {@link LLMOutputError} when the repaired reply is still invalid.
   */
  async json<T>(request: ChatRequest, schema: z.ZodType<T>, name = 'reply', signal?: AbortSignal): Promise<JsonResult<T>> {
    const r = await this.tryJson(request, schema, name, signal);
    if (!r.ok) throw new LLMOutputError(`${request.tag ?? 'LLM'}: invalid structured reply after repair: ${r.error}`, r.text, request.tag);
    return r;
  }

  /** Like {@link json} but returns the failure instead of throwing (probes count failures). */
  async tryJson<T>(request: ChatRequest, schema: z.ZodType<T>, name = 'reply', signal?: AbortSignal): Promise<TryJson<T>> {
    const jsonSchema = z.toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>;
    delete jsonSchema.$schema;
    const first: ChatRequest = { ...request, messages: withSchemaInstruction(request.messages, jsonSchema), schema: { name, schema: jsonSchema } };
    const r1 = await this.chat(first, signal);
    const v1 = validate(r1.text, schema);
    if (v1.ok) return { ok: true, value: v1.value, result: r1, repaired: false };
    this.ledger.recordEvent(request.tag, 'repairs');
    const repair: ChatRequest = {
      ...first,
      messages: [
        ...first.messages,
        { role: 'assistant', content: r1.text },
        { role: 'user', content: `That reply is invalid: ${v1.error}. Reply again with one JSON object only, matching the schema exactly.` },
      ],
    };
    const r2 = await this.chat(repair, signal);
    const v2 = validate(r2.text, schema);
    if (v2.ok) return { ok: true, value: v2.value, result: r2, repaired: true };
    this.ledger.recordEvent(request.tag, 'failures');
    return { ok: false, error: v2.error, text: r2.text };
  }

  /** Releases the provider's resources. */
  async close(): Promise<void> {
    await this.provider.close?.();
  }

  private estimate(request: ChatRequest, text: string): TokenUsage {
    return { promptTokens: estimateTokens(request.messages.map((m) => m.content).join('\n')), completionTokens: estimateTokens(text), estimated: true };
  }

  private async callWithRetries(request: ChatRequest, signal?: AbortSignal): Promise<{ reply: ProviderReply; latencyMs: number }> {
    for (let attempt = 0; ; attempt++) {
      await this.waitTurn();
      const t0 = performance.now();
      try {
        const reply = await this.provider.complete(request, signal);
        return { reply, latencyMs: performance.now() - t0 };
      } catch (error) {
        const retryable = error instanceof LLMHttpError && error.retryable;
        if (!retryable || attempt >= this.opts.maxRetries || signal?.aborted) throw error;
        this.ledger.recordEvent(request.tag, 'retries');
        await this.opts.sleep(this.backoff(attempt, (error as LLMHttpError).retryAfterMs));
      }
    }
  }

  /** Delay before retry `attempt` (0-based): base·2^attempt with ±25 % jitter, at least Retry-After, at most the cap. */
  backoff(attempt: number, retryAfterMs?: number): number {
    const exp = this.opts.backoffBaseMs * 2 ** attempt * (0.75 + 0.5 * Math.random());
    return Math.min(this.opts.backoffMaxMs, Math.max(exp, retryAfterMs ?? 0));
  }

  /** Spaces call starts by minIntervalMs (a simple rate limit shared by all slots). */
  private async waitTurn(): Promise<void> {
    if (this.opts.minIntervalMs <= 0) return;
    const now = Date.now();
    const start = Math.max(now, this.nextStart);
    this.nextStart = start + this.opts.minIntervalMs;
    if (start > now) await this.opts.sleep(start - now);
  }
}

function validate<T>(text: string, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; error: string } {
  let parsed: unknown;
  try {
    parsed = extractJson(text);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const r = schema.safeParse(parsed);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: describeZodError(r.error) };
}
