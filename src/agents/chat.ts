/**
 * Conversational recommendation with grounding: each turn the LLM answers the user and lists the
 * titles it recommends; every listed title is grounded to a catalogue id (llmrec's grounder:
 * exact, normalised, then nearest title by embedding above a threshold). A title that grounds to
 * nothing is a hallucination: it is counted, dropped from the recommendations and cut out of the
 * reply text, so the answer only ever names catalogue items. A title grounded by normalisation or
 * embedding is replaced by the catalogue's own title in the reply.
 *
 * Sessions are plain JSON (`ChatSession`): the CLI keeps them in a file, a server in its store.
 */
import { z } from 'zod';
import type { Dataset, Interactions } from '../data/types.ts';
import { loadPrompt, renderPrompt, type LLMClient, type PromptTemplate } from '../llm/index.ts';
import { Grounder, userHistory, type ItemCatalogue } from '../llmrec/index.ts';
import { AGENT_PROMPTS_DIR } from './macrec.ts';

/** What the chat model writes. */
export const ChatModelReply = z.object({ reply: z.string(), titles: z.array(z.string()) });

/** A recommended item after grounding. */
export interface ChatItem {
  /** Raw catalogue id. */
  item_id: string;
  title: string;
  /** How the mention was matched (`exact`, `normalised`, `embedding`). */
  method: string;
  /** What the model wrote. */
  mention: string;
}

/** One turn of a session. */
export interface ChatTurn {
  role: 'user' | 'assistant';
  text: string;
  items?: ChatItem[];
  /** Assistant turns: mentions dropped as hallucinations. */
  dropped?: string[];
  at: string;
}

/** A conversation. */
export interface ChatSession {
  id: string;
  /** Raw user id when the person is a known user (their history informs the answers). */
  user?: string;
  turns: ChatTurn[];
  /** Hallucinated mentions dropped over the whole session. */
  hallucinations: number;
}

/** The outcome of one turn. */
export interface ChatAnswer {
  reply: string;
  items: ChatItem[];
  /** Mentions that matched no catalogue item (dropped and cut from the reply). */
  dropped: string[];
  /** Mentions mapped to a catalogue title that differs from what the model wrote. */
  mapped: number;
}

/** Options of {@link ChatRecommender}. */
export interface ChatOptions {
  client: LLMClient;
  dataset: Dataset;
  catalogue: ItemCatalogue;
  /** History the model may see about a known user. */
  history?: Interactions;
  template?: PromptTemplate;
  grounder?: Grounder;
  /** History events shown (default 15). */
  historyShown?: number;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A conversational recommender over one catalogue. */
export class ChatRecommender {
  readonly grounder: Grounder;
  readonly template: PromptTemplate;

  constructor(private readonly options: ChatOptions) {
    this.grounder = options.grounder ?? new Grounder(options.catalogue);
    this.template = options.template ?? loadPrompt('chat', undefined, AGENT_PROMPTS_DIR);
  }

  /** Releases the model (local GGUF models hold memory). */
  async close(): Promise<void> {
    await this.options.client.close();
  }

  /** A new empty session (for a known user when `user` is a raw user id of the data). */
  newSession(id: string, user?: string): ChatSession {
    if (user !== undefined && this.options.dataset.userIds.get(user) === undefined) throw new Error(`chat: no user with id "${user}" in ${this.options.dataset.name}`);
    return { id, ...(user !== undefined ? { user } : {}), turns: [], hallucinations: 0 };
  }

  private profile(session: ChatSession): string {
    const { dataset, history, catalogue } = this.options;
    if (session.user === undefined || !history) return 'nothing yet (a new user)';
    const u = dataset.userIds.get(session.user)!;
    const h = userHistory(history, u, catalogue, this.options.historyShown ?? 15);
    return h.length ? `recently watched (title | rating): ${h.map((e) => `${e.title} | ${e.rating ?? '-'}`).join('; ')}` : 'nothing yet';
  }

  /** Answers `message` in `session` (appending both turns to it). */
  async turn(session: ChatSession, message: string): Promise<ChatAnswer> {
    if (!message.trim()) throw new Error('chat: empty message');
    const conversation = session.turns.length ? session.turns.map((t) => `${t.role === 'user' ? 'User' : 'You'}: ${t.text}`).join('\n') : '(start of the conversation)';
    const messages = renderPrompt(this.template, { profile: this.profile(session), conversation, message });
    const meta = { kind: 'chat', message, turn: session.turns.length / 2 + 1, user: session.user ?? null };
    const r = await this.options.client.tryJson({ messages, tag: this.template.id, meta, maxTokens: 400 }, ChatModelReply, 'chat_reply');
    const raw = r.ok ? r.value : { reply: "Sorry, I could not come up with an answer; could you rephrase?", titles: [] };
    const answer = await this.ground(raw.reply, raw.titles);
    const now = new Date().toISOString();
    session.turns.push({ role: 'user', text: message, at: now }, { role: 'assistant', text: answer.reply, items: answer.items, dropped: answer.dropped, at: now });
    session.hallucinations += answer.dropped.length;
    return answer;
  }

  /** Grounds the mentioned titles and rewrites the reply so it names catalogue items only. */
  async ground(reply: string, titles: readonly string[]): Promise<ChatAnswer> {
    const { dataset, catalogue } = this.options;
    const items: ChatItem[] = [];
    const dropped: string[] = [];
    const seen = new Set<number>();
    let mapped = 0;
    // Longest mentions first, so a title that contains another is matched whole.
    const order = [...new Set(titles.map((t) => t.trim()).filter(Boolean))].sort((a, b) => b.length - a.length);
    const replacement = new Map<string, string>();
    for (const mention of order) {
      const g = await this.grounder.ground(mention);
      if (g.item < 0) {
        dropped.push(mention);
        replacement.set(mention.toLowerCase(), '');
        continue;
      }
      const title = catalogue.titles[g.item];
      if (title !== mention) mapped++;
      replacement.set(mention.toLowerCase(), title);
      if (!seen.has(g.item)) {
        seen.add(g.item);
        items.push({ item_id: dataset.itemIds.toRaw(g.item), title, method: g.method, mention });
      }
    }
    // Items in the order the model listed them.
    const rank = new Map(titles.map((t, i) => [t.trim(), i]));
    items.sort((a, b) => (rank.get(a.mention) ?? 0) - (rank.get(b.mention) ?? 0));
    // One pass over the reply (a replaced title is never matched again), whole words only.
    let text = reply;
    if (order.length) {
      const any = new RegExp(`(?<![\\p{L}\\p{N}])(?:${order.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`, 'giu');
      text = text.replace(any, (m) => replacement.get(m.toLowerCase()) ?? m);
    }
    text = text
      .replace(/\(\s*\)|\[\s*\]|"\s*"/g, '')
      .replace(/\s+([,.;:!?])/g, '$1')
      .replace(/([,;:])(\s*[,;:])+/g, '$1')
      .replace(/[,;:]\s*([.!?]|$)/g, '$1')
      // A list whose last title was dropped must not end on its conjunction ("A, B or.").
      .replace(/(?:,\s*|\s+)(?:or|and)\s*([.!?]|$)/gi, '$1')
      .replace(/[ \t]{2,}/g, ' ')
      .trim();
    return { reply: text, items, dropped, mapped };
  }
}
