/** The LLM layer's public surface: clients, providers, prompts, embeddings, accounting. */
export * from './types.ts';
export * from './client.ts';
export * from './cache.ts';
export * from './accounting.ts';
export * from './prompts.ts';
export * from './embed.ts';
export * from './spec.ts';
export { ScriptedProvider, type Script, type ScriptReply } from './providers/scripted.ts';
export { ReplayProvider } from './providers/replay.ts';
export { OpenAIProvider, parseRetryAfter, type OpenAIProviderOptions, type StructuredMode } from './providers/openai.ts';
export { LlamaCppProvider, type LlamaCppOptions } from './providers/llamacpp.ts';
