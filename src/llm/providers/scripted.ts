/**
 * The scripted provider: a deterministic function from request to reply, for tests and for
 * dry-running pipelines (an Arena with a judge of known bias, an LLM recommender that returns the
 * candidates in the given order…). It sees the request's `meta`, so it can act on structured
 * inputs without parsing prompts.
 */
import type { ChatRequest, LLMProvider, ProviderReply } from '../types.ts';

/** What a script returns: reply text, or a value that is sent as its JSON. */
export type ScriptReply = string | Record<string, unknown> | unknown[];

/** A script: request (and how many calls came before) → reply. */
export type Script = (request: ChatRequest, callIndex: number) => ScriptReply | Promise<ScriptReply>;

/** A provider that answers by running a script. */
export class ScriptedProvider implements LLMProvider {
  readonly id: string;
  /** Every request received, in order (tests inspect prompts through this). */
  readonly requests: ChatRequest[] = [];

  constructor(
    name: string,
    private readonly script: Script,
  ) {
    this.id = `scripted:${name}`;
  }

  async complete(request: ChatRequest): Promise<ProviderReply> {
    const index = this.requests.length;
    this.requests.push(request);
    const out = await this.script(request, index);
    const text = typeof out === 'string' ? out : JSON.stringify(out);
    return { text, model: this.id };
  }
}
