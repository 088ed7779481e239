/**
 * `reclab ui` on its own: a Fastify server with the dashboard at `/ui/` over the folders of
 * results, with votes kept in a SQLite file under the runs folder (the serve store's class and
 * schema, so a later `reclab serve --db` on that file sees the same votes).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { openStore, type Store, type VoteStore } from '../store.ts';
import { uiPlugin, type UiOptions } from './plugin.ts';

/** Options of {@link startUi}. */
export interface UiServerOptions extends Omit<UiOptions, 'votes'> {
  port: number;
  host?: string;
  /** Vote store URL (default `sqlite:<first root>/ui-votes.db`). */
  db?: string;
}

/** A running dashboard. */
export interface UiServer {
  app: FastifyInstance;
  /** `http://host:port/ui/`. */
  url: string;
  close(): Promise<void>;
}

/** Builds the dashboard app (does not listen) over an open vote store. */
export async function buildUiApp(options: UiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/', async (_request, reply) => reply.redirect('/ui/'));
  await app.register(uiPlugin, { ...options, prefix: '/ui' });
  return app;
}

/** Opens the vote store, builds the app and listens. */
export async function startUi(options: UiServerOptions): Promise<UiServer> {
  const roots = options.roots ?? ['runs', 'docs/results'];
  const store: Store & VoteStore = await openStore(options.db ?? `sqlite:${join(roots[0], 'ui-votes.db')}`);
  try {
    const app = await buildUiApp({ ...options, roots, votes: store });
    const host = options.host ?? '127.0.0.1';
    await app.listen({ port: options.port, host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    return {
      app,
      url: `http://${host}:${port}/ui/`,
      close: async () => {
        await app.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
