/**
 * Text encoders for knowledge: the project's offline ones (src/llm/embed.ts: the Universal
 * Sentence Encoder lite through `@energetic-ai`, or hashed n-grams) and an OpenAI-compatible
 * `/embeddings` endpoint (OpenAI, vLLM, Ollama, llama.cpp server, TEI …).
 *
 * Spec strings: `use`, `hashed`, `auto` (USE when it loads, else hashed), `openai:<model>`
 * (base URL from `baseURL`, else $RECLAB_LLM_BASE_URL, else https://api.openai.com/v1; key from
 * $RECLAB_LLM_API_KEY or $OPENAI_API_KEY).
 */
import { defaultEmbedder, normalize, type Embedder } from '../llm/embed.ts';

/** Options of {@link OpenAIEmbedder}. */
export interface OpenAIEmbedderOptions {
  baseURL?: string;
  apiKey?: string;
  /** Texts per request (default 128). */
  batch?: number;
  /** Injectable fetch (tests). */
  fetch?: typeof fetch;
}

/** An OpenAI-compatible embeddings endpoint: POST {baseURL}/embeddings { model, input: [...] }. */
export class OpenAIEmbedder implements Embedder {
  readonly name: string;
  dim = 0;
  /** HTTP requests made. */
  requests = 0;
  private readonly baseURL: string;
  private readonly apiKey?: string;
  private readonly batch: number;
  private readonly doFetch: typeof fetch;

  constructor(readonly model: string, options: OpenAIEmbedderOptions = {}) {
    this.baseURL = (options.baseURL ?? process.env.RECLAB_LLM_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? process.env.RECLAB_LLM_API_KEY ?? process.env.OPENAI_API_KEY;
    this.batch = options.batch ?? 128;
    this.doFetch = options.fetch ?? fetch;
    this.name = `openai:${model}`;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batch) {
      const input = texts.slice(i, i + this.batch);
      this.requests++;
      const res = await this.doFetch(`${this.baseURL}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
        body: JSON.stringify({ model: this.model, input }),
      });
      if (!res.ok) throw new Error(`${this.baseURL}/embeddings: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      const body = (await res.json()) as { data?: { index: number; embedding: number[] }[] };
      if (!Array.isArray(body.data) || body.data.length !== input.length) throw new Error(`${this.baseURL}/embeddings: expected ${input.length} embeddings in "data", got ${Array.isArray(body.data) ? body.data.length : 'none'}`);
      const rows = [...body.data].sort((a, b) => a.index - b.index);
      for (const r of rows) {
        if (this.dim === 0) this.dim = r.embedding.length;
        if (r.embedding.length !== this.dim) throw new Error(`${this.baseURL}/embeddings: embedding ${r.index} has ${r.embedding.length} values, expected ${this.dim}`);
        out.push(normalize(Float32Array.from(r.embedding)));
      }
    }
    return out;
  }
}

/** The encoder a spec string names. */
export async function embedderFromSpec(spec: string, options: OpenAIEmbedderOptions = {}): Promise<Embedder> {
  if (spec.startsWith('openai:')) {
    const model = spec.slice('openai:'.length);
    if (!model) throw new Error(`embedder "${spec}": name the model, e.g. openai:text-embedding-3-small`);
    return new OpenAIEmbedder(model, options);
  }
  if (spec === 'use' || spec === 'hashed' || spec === 'auto') return defaultEmbedder(spec);
  throw new Error(`unknown embedder "${spec}"; use use, hashed, auto or openai:<model>`);
}
