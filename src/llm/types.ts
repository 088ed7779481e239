/**
 * The vocabulary of the LLM layer: chat messages, requests, provider replies and the errors that
 * drive retries. Providers (OpenAI-compatible HTTP, local GGUF, replay, scripted) implement
 * {@link LLMProvider}; everything else talks to {@link LLMClient} (client.ts), which adds the
 * cache, accounting, concurrency limit, retries and structured-output repair on top.
 */

/** One chat turn. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A JSON schema the reply must satisfy, with a short name (OpenAI `response_format` needs one). */
export interface OutputSchema {
  name: string;
  schema: Record<string, unknown>;
}

/** What a caller asks for. Everything except `meta` and `tag` is part of the request hash. */
export interface ChatRequest {
  messages: ChatMessage[];
  /** Sampling temperature (default 0: judging and ranking want determinism). */
  temperature?: number;
  /** Cap on generated tokens (default 512). */
  maxTokens?: number;
  /** Sampling seed, for providers that honour it. */
  seed?: number;
  /** Constrain the reply to this JSON schema (providers that support it enforce it natively). */
  schema?: OutputSchema;
  /**
   * Prompt-template id (`name@version`) that produced the messages, recorded in accounting and
   * in every result. Not part of the hash: the rendered messages already are.
   */
  tag?: string;
  /**
   * Structured side information for scripted providers (the lists being compared, the candidate
   * set…), so test judges can act on it without parsing prompts. Never sent to a real model and
   * not part of the hash.
   */
  meta?: Record<string, unknown>;
}

/** Token counts of one call. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** True when the provider gave no counts and they were estimated (≈ 4 characters per token). */
  estimated?: boolean;
}

/** What a provider returns for one request. */
export interface ProviderReply {
  text: string;
  usage?: TokenUsage;
  /** Model name the provider reports having used. */
  model?: string;
}

/** A backend that turns one request into one reply. No caching, retries or accounting here. */
export interface LLMProvider {
  /** Stable identity of backend + model, e.g. `openai:gpt-4o-mini@https://api.openai.com/v1`; part of the request hash. */
  readonly id: string;
  /** Answers one request. Throw {@link LLMHttpError} for HTTP failures so the client can retry. */
  complete(request: ChatRequest, signal?: AbortSignal): Promise<ProviderReply>;
  /** Releases resources (local models). */
  close?(): Promise<void>;
}

/** An HTTP-level failure. `status` undefined means the connection itself failed. */
export class LLMHttpError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Server-requested wait before retrying (Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LLMHttpError';
  }

  /** 429 (rate limited), 408, 5xx and connection failures are worth retrying; other 4xx are not. */
  get retryable(): boolean {
    return this.status === undefined || this.status === 429 || this.status === 408 || this.status >= 500;
  }
}

/** A reply that stayed invalid against its schema after the repair retry. */
export class LLMOutputError extends Error {
  constructor(
    message: string,
    /** The last raw reply. */
    readonly text: string,
    readonly tag?: string,
  ) {
    super(message);
    this.name = 'LLMOutputError';
  }
}
