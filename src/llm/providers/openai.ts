/**
 * The OpenAI-compatible HTTP provider, on the official `openai` package with a base URL, so it
 * talks to OpenAI and to every server that speaks the chat-completions protocol (vLLM, Ollama,
 * llama.cpp server, LM Studio…). Retries are the client's job: the SDK's own are switched off and
 * its errors become {@link LLMHttpError} with the status and Retry-After.
 */
import OpenAI from 'openai';
import { LLMHttpError, type ChatRequest, type LLMProvider, type ProviderReply } from '../types.ts';

/** How to ask for structured output: native JSON schema (default), generic JSON mode, or prompt only. */
export type StructuredMode = 'json_schema' | 'json_object' | 'prompt';

/** Options of {@link OpenAIProvider}. */
export interface OpenAIProviderOptions {
  /** Model name as the server knows it. */
  model: string;
  /** Server base URL, e.g. `http://localhost:8000/v1` (default: OpenAI). */
  baseURL?: string;
  /** API key (default: $OPENAI_API_KEY, else a placeholder local servers accept). */
  apiKey?: string;
  /** Per-request timeout, ms (default 120 000). */
  timeoutMs?: number;
  structured?: StructuredMode;
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** A chat-completions endpoint. */
export class OpenAIProvider implements LLMProvider {
  readonly id: string;
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAIProviderOptions) {
    const baseURL = options.baseURL ?? 'https://api.openai.com/v1';
    this.id = `openai:${options.model}@${baseURL}`;
    this.client = new OpenAI({
      baseURL,
      apiKey: options.apiKey ?? process.env.OPENAI_API_KEY ?? 'sk-no-key',
      maxRetries: 0,
      timeout: options.timeoutMs ?? 120_000,
    });
  }

  async complete(request: ChatRequest, signal?: AbortSignal): Promise<ProviderReply> {
    const mode = this.options.structured ?? 'json_schema';
    let response_format: OpenAI.ChatCompletionCreateParams['response_format'];
    if (request.schema && mode === 'json_schema') {
      response_format = { type: 'json_schema', json_schema: { name: request.schema.name, schema: request.schema.schema, strict: false } };
    } else if (request.schema && mode === 'json_object') response_format = { type: 'json_object' };
    let completion: OpenAI.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model: this.options.model,
          messages: request.messages,
          temperature: request.temperature ?? 0,
          max_tokens: request.maxTokens ?? 512,
          ...(request.seed !== undefined ? { seed: request.seed } : {}),
          ...(response_format ? { response_format } : {}),
        },
        { signal },
      );
    } catch (error) {
      if (error instanceof OpenAI.APIConnectionError) throw new LLMHttpError(`${this.id}: connection failed: ${error.message}`, undefined);
      if (error instanceof OpenAI.APIError) {
        const retryAfter = parseRetryAfter(error.headers?.get?.('retry-after'));
        throw new LLMHttpError(`${this.id}: HTTP ${error.status}: ${error.message}`, error.status, retryAfter);
      }
      throw error;
    }
    const choice = completion.choices?.[0];
    const text = choice?.message?.content;
    // A 200 without a message is a server fault worth retrying, not an empty answer.
    if (typeof text !== 'string') throw new LLMHttpError(`${this.id}: reply has no choices[0].message.content`, 502);
    const usage = completion.usage
      ? { promptTokens: completion.usage.prompt_tokens ?? 0, completionTokens: completion.usage.completion_tokens ?? 0 }
      : undefined;
    return { text, usage, model: completion.model };
  }
}
