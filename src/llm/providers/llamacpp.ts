/**
 * The local provider: a GGUF model run on the CPU by node-llama-cpp, with JSON-schema-constrained
 * decoding (the schema becomes a GBNF grammar, so the model cannot emit anything else).
 *
 * node-llama-cpp is imported lazily on first use, so the rest of reclab never loads the native
 * addon. It runs from the prebuilt CPU binary shipped in `@node-llama-cpp/linux-x64` (and
 * siblings): `build: 'never'` and `skipDownload` make sure nothing is compiled or fetched.
 */
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { ChatRequest, LLMProvider, ProviderReply } from '../types.ts';

/** Options of {@link LlamaCppProvider}. */
export interface LlamaCppOptions {
  /** Path of the .gguf file. */
  modelPath: string;
  /** Context window in tokens (default 2048, capped by the model's training context). */
  contextSize?: number;
  /** CPU threads per evaluation (default 2: the machine is shared; raise on a free box). */
  threads?: number;
}

// Types of the lazily imported module, kept loose on purpose: only a few members are used.
type LlamaModule = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<LlamaModule['getLlama']>>;
type LlamaModel = Awaited<ReturnType<Llama['loadModel']>>;
type LlamaContext = Awaited<ReturnType<LlamaModel['createContext']>>;

interface Loaded {
  mod: LlamaModule;
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
}

/** A GGUF model on the CPU. Requests run one at a time on one context sequence. */
export class LlamaCppProvider implements LLMProvider {
  readonly id: string;
  private loading?: Promise<Loaded>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LlamaCppOptions) {
    this.options = { ...options, modelPath: resolve(options.modelPath) };
    if (!existsSync(this.options.modelPath)) throw new Error(`${this.options.modelPath}: GGUF model file not found`);
    this.id = `gguf:${this.options.modelPath}`;
  }

  /** Loads the runtime and the model once. */
  private load(): Promise<Loaded> {
    this.loading ??= (async () => {
      const mod = await import('node-llama-cpp');
      const llama = await mod.getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: mod.LlamaLogLevel.error });
      const model = await llama.loadModel({ modelPath: this.options.modelPath });
      const contextSize = Math.min(this.options.contextSize ?? 2048, model.trainContextSize);
      const context = await model.createContext({ contextSize, threads: this.options.threads ?? 2 });
      return { mod, llama, model, context };
    })();
    return this.loading;
  }

  /** Metadata of the loaded model (architecture, context), loading it if needed. */
  async info(): Promise<{ architecture: string | undefined; trainContextSize: number; contextSize: number }> {
    const { model, context } = await this.load();
    return { architecture: model.fileInfo.metadata?.general?.architecture, trainContextSize: model.trainContextSize, contextSize: context.contextSize };
  }

  complete(request: ChatRequest, signal?: AbortSignal): Promise<ProviderReply> {
    // One context sequence: serialise requests (the client's concurrency limit may be higher).
    const run = this.queue.then(() => this.completeNow(request, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async completeNow(request: ChatRequest, signal?: AbortSignal): Promise<ProviderReply> {
    const { mod, llama, context } = await this.load();
    const sequence = context.getSequence();
    const before = sequence.tokenMeter.getState();
    const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    const turns = request.messages.filter((m) => m.role !== 'system');
    const last = turns[turns.length - 1];
    if (!last || last.role !== 'user') throw new Error(`${this.id}: a request must end with a user message`);
    const session = new mod.LlamaChatSession({ contextSequence: sequence, systemPrompt: system || undefined });
    try {
      // Earlier turns (e.g. the reply being repaired) become chat history.
      const history: import('node-llama-cpp').ChatHistoryItem[] = system ? [{ type: 'system', text: system }] : [];
      for (const m of turns.slice(0, -1)) history.push(m.role === 'user' ? { type: 'user', text: m.content } : { type: 'model', response: [m.content] });
      if (history.length) session.setChatHistory(history);
      const grammar = request.schema ? await llama.createGrammarForJsonSchema(request.schema.schema as never) : undefined;
      const text = await session.prompt(last.content, {
        maxTokens: request.maxTokens ?? 512,
        temperature: request.temperature ?? 0,
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(grammar ? { grammar } : {}),
        signal,
      });
      const used = sequence.tokenMeter.diff(before);
      return { text, usage: { promptTokens: used.usedInputTokens, completionTokens: used.usedOutputTokens }, model: this.id };
    } finally {
      session.dispose({ disposeSequence: true });
    }
  }

  async close(): Promise<void> {
    if (!this.loading) return;
    const { llama, model, context } = await this.loading;
    await context.dispose();
    await model.dispose();
    await llama.dispose();
    this.loading = undefined;
  }
}
