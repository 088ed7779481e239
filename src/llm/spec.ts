/**
 * Provider specs: one string names a backend, so the CLI takes `--judge openai:gpt-4o-mini` or
 * `--judge gguf:./model.gguf` and the library builds the client.
 *
 * | spec | backend |
 * |---|---|
 * | `openai:<model>` | OpenAI-compatible server at `baseURL` (option, else $RECLAB_LLM_BASE_URL, else OpenAI) |
 * | `openai:<model>@<url>` | same, with the base URL inline |
 * | `gguf:<path>` | local GGUF model through node-llama-cpp (CPU) |
 * | `replay:<file.jsonl>` | recorded replies (see `LLMClient` `recordPath`) |
 * | `scripted:<name>` | a deterministic script registered with {@link registerScript} |
 */
import { LLMClient, type LLMClientOptions } from './client.ts';
import { OpenAIProvider, type StructuredMode } from './providers/openai.ts';
import { LlamaCppProvider } from './providers/llamacpp.ts';
import { ReplayProvider } from './providers/replay.ts';
import { ScriptedProvider, type Script } from './providers/scripted.ts';
import type { LLMProvider } from './types.ts';

const SCRIPTS = new Map<string, { script: Script; description: string }>();

/** Makes `scripted:<name>` available (judge/ and llmrec/ register their test doubles). */
export function registerScript(name: string, description: string, script: Script): void {
  SCRIPTS.set(name, { script, description });
}

/** Registered scripts with their one-line descriptions. */
export function listScripts(): { name: string; description: string }[] {
  return [...SCRIPTS.entries()].map(([name, s]) => ({ name, description: s.description }));
}

/** Options that complete a spec. */
export interface ProviderSpecOptions {
  /** Base URL for `openai:` specs without one (default $RECLAB_LLM_BASE_URL, else OpenAI). */
  baseURL?: string;
  apiKey?: string;
  structured?: StructuredMode;
  /** Context size and threads for `gguf:`. */
  contextSize?: number;
  threads?: number;
}

/** Builds the provider a spec names, with a clear error for malformed specs. */
export function createProvider(spec: string, options: ProviderSpecOptions = {}): LLMProvider {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  switch (kind) {
    case 'openai': {
      if (!rest) throw new Error(`provider spec "${spec}": expected openai:<model>[@<base-url>]`);
      const at = rest.indexOf('@');
      const model = at < 0 ? rest : rest.slice(0, at);
      const baseURL = at < 0 ? (options.baseURL ?? process.env.RECLAB_LLM_BASE_URL) : rest.slice(at + 1);
      return new OpenAIProvider({ model, baseURL, apiKey: options.apiKey ?? process.env.RECLAB_LLM_API_KEY, structured: options.structured });
    }
    case 'gguf':
      if (!rest) throw new Error(`provider spec "${spec}": expected gguf:<path-to-model.gguf>`);
      return new LlamaCppProvider({ modelPath: rest, contextSize: options.contextSize, threads: options.threads });
    case 'replay':
      if (!rest) throw new Error(`provider spec "${spec}": expected replay:<recording.jsonl>`);
      return new ReplayProvider(rest);
    case 'scripted': {
      const s = SCRIPTS.get(rest);
      if (!s) throw new Error(`provider spec "${spec}": unknown script "${rest}"; known: ${[...SCRIPTS.keys()].join(', ') || '(none)'}`);
      return new ScriptedProvider(rest, s.script);
    }
    default:
      throw new Error(`provider spec "${spec}": unknown kind "${kind}"; use openai:, gguf:, replay: or scripted:`);
  }
}

/** A client over the provider `spec` names. */
export function createClient(spec: string, options: LLMClientOptions & ProviderSpecOptions = {}): LLMClient {
  return new LLMClient(createProvider(spec, options), options);
}
