/**
 * `POST /api/chat` and `GET /api/chat/:id`: conversational recommendation over HTTP
 * (docs/agents.md). Each message goes to the agents' `ChatRecommender`, whose every recommended
 * title is grounded to a catalogue item (hallucinated titles dropped and counted); the session
 * (turns, items, dropped mentions) is kept in a small SQLite table of its own (`chat_sessions`,
 * one JSON row per session) beside the service's store, so a conversation survives restarts.
 * Messages of one session are answered one at a time (a second message waits for the first).
 */
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { ChatRecommender, ChatSession } from '../../agents/chat.ts';
import { httpError } from '../http.ts';
import { errors, tag, type Api } from './context.ts';

/** Chat sessions in SQLite (`chat_sessions`: id, user, JSON body, update time). */
export class ChatSessionStore {
  private constructor(private readonly db: import('better-sqlite3').Database) {}

  /** Opens (creating the table if needed) the database at `path` (`:memory:` for tests). */
  static async open(path: string): Promise<ChatSessionStore> {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS chat_sessions (id TEXT PRIMARY KEY, user TEXT, body TEXT NOT NULL, updated_at INTEGER NOT NULL)');
    return new ChatSessionStore(db);
  }

  get(id: string): ChatSession | undefined {
    const row = this.db.prepare('SELECT body FROM chat_sessions WHERE id = ?').get(id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as ChatSession) : undefined;
  }

  put(session: ChatSession): void {
    this.db.prepare('INSERT INTO chat_sessions (id, user, body, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET user = excluded.user, body = excluded.body, updated_at = excluded.updated_at').run(session.id, session.user ?? null, JSON.stringify(session), Date.now());
  }

  close(): void {
    this.db.close();
  }
}

/** What the chat routes need. */
export interface ChatService {
  recommender: ChatRecommender;
  sessions: ChatSessionStore;
}

/** How `reclab serve --chat-llm …` configures chat (plain data: cluster workers get a copy and build their own service). */
export interface ChatConfig {
  /** Provider spec of the chat model (openai:…, gguf:…, replay:…, scripted:…). */
  llm: string;
  /** Dataset whose item titles are the catalogue and whose histories inform the answers. */
  data: string;
  format: string;
  /** SQLite file of the sessions. */
  db: string;
}

/** Builds the chat service of a config: the client, the catalogue (dataset side table) and the session table. */
export async function openChatService(config: ChatConfig): Promise<ChatService> {
  const [{ ChatRecommender: Recommender }, { loadLlmData, clientFromFlags }] = await Promise.all([import('../../agents/chat.ts'), import('../../llmrec/setup.ts'), import('../../agents/scripts.ts')]);
  const data = await loadLlmData({ data: config.data, format: config.format }, false);
  const client = clientFromFlags(config.llm, { cache: false, concurrency: '4', priceIn: '0', priceOut: '0', structured: 'json_schema' });
  return { recommender: new Recommender({ client, dataset: data.dataset, catalogue: data.catalogue, history: data.history }), sessions: await ChatSessionStore.open(config.db) };
}

const ChatIn = Type.Object(
  {
    SessionId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'continue this session; a new one is started when absent or unknown' })),
    UserId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a known user of the data (their history informs the answers); only when a session starts' })),
    Message: Type.String({ minLength: 1, maxLength: 4000 }),
  },
  { additionalProperties: false },
);
const ChatItemOut = Type.Object({ ItemId: Type.String(), Title: Type.String(), Matched: Type.String() });
const ChatOut = Type.Object({
  SessionId: Type.String(),
  Reply: Type.String(),
  Items: Type.Array(ChatItemOut),
  Dropped: Type.Array(Type.String(), { description: 'titles the model named that are not in the catalogue (cut from the reply)' }),
  Hallucinations: Type.Integer({ description: 'dropped titles over the whole session' }),
});
const SessionOut = Type.Object({ SessionId: Type.String(), UserId: Type.Union([Type.String(), Type.Null()]), Turns: Type.Array(Type.Object({ Role: Type.String(), Text: Type.String(), Items: Type.Array(ChatItemOut), At: Type.String() })), Hallucinations: Type.Integer() });

/** Registers the chat routes on `api`. */
export function chatRoutes(api: Api, { recommender, sessions }: ChatService): void {
  api.addHook('onClose', async () => {
    sessions.close();
    await recommender.close();
  });
  const queues = new Map<string, Promise<unknown>>();
  api.post('/chat', { schema: { ...tag('chat'), summary: 'One message of a conversation: a grounded answer', body: ChatIn, response: { 200: ChatOut, ...errors } } }, async (request) => {
    const { SessionId, UserId, Message } = request.body;
    const id = SessionId ?? randomUUID();
    // One message at a time per session: the turns of a session are an ordered list.
    const run = (queues.get(id) ?? Promise.resolve()).then(async () => {
      let session = sessions.get(id);
      if (!session) {
        try {
          session = recommender.newSession(id, UserId);
        } catch (e) {
          throw httpError(400, `body/UserId: ${(e as Error).message}`);
        }
      }
      const a = await recommender.turn(session, Message);
      sessions.put(session);
      return { SessionId: id, Reply: a.reply, Items: a.items.map((x) => ({ ItemId: x.item_id, Title: x.title, Matched: x.method })), Dropped: a.dropped, Hallucinations: session.hallucinations };
    });
    const settled = run.catch(() => undefined);
    queues.set(id, settled);
    void settled.then(() => {
      if (queues.get(id) === settled) queues.delete(id);
    });
    return run;
  });
  api.get('/chat/:id', { schema: { ...tag('chat'), summary: 'A chat session', params: Type.Object({ id: Type.String() }), response: { 200: SessionOut, ...errors } } }, async (request) => {
    const s = sessions.get(request.params.id);
    if (!s) throw httpError(404, `chat session "${request.params.id}" not found`);
    return {
      SessionId: s.id,
      UserId: s.user ?? null,
      Turns: s.turns.map((t) => ({ Role: t.role, Text: t.text, Items: (t.items ?? []).map((x) => ({ ItemId: x.item_id, Title: x.title, Matched: x.method })), At: t.at })),
      Hallucinations: s.hallucinations,
    };
  });
}
