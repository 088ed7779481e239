/**
 * The web dashboard as a Fastify plugin, mounted at `/ui` by `reclab ui` (alone) and by
 * `reclab serve --ui` (on the service's port). The page shell and the scripts carry no data and
 * are served to anyone; every `/ui/api/*` route, which does, requires the API key (`X-API-Key`)
 * when one is set — checked by a hook of the encapsulated scope, so it holds for every route in it.
 *
 * Pages (assets/): Runs, Data, Laws, Arena (with human voting), Service. The data comes from the
 * same code as the CLI: result tables (`src/experiment`), `describeDataset` (`src/data`), the law
 * calculators (`src/laws`), Arena statistics (`src/judge`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DataSpec } from '../../data/load.ts';
import type { VoteStore } from '../store.ts';
import { votesJsonl } from '../../judge/human.ts';
import { loadAssets, CSP } from './assets.ts';
import { scanCatalog, type CatalogEntry, type EntryKind } from './catalog.ts';
import { configDiff, resultCurves, resultView, traceCurves } from './runs.ts';
import { DataViews } from './data.ts';
import { fitView, llmPredict, readFit, srPredict } from './laws.ts';
import { arenaView, readArena, Voting } from './arena.ts';

/** Options of {@link uiPlugin}. */
export interface UiOptions {
  /** Folders searched for results, traces, Arena reports and law fits (default `runs`, `docs/results`). */
  roots?: string[];
  /** Where votes are kept (the serve store, or a SQLite file of `reclab ui`). */
  votes: VoteStore;
  /** Required `X-API-Key` of the data routes; undefined = open. */
  apiKey?: string;
  /** Datasets the Data page can describe, by name. */
  datasets?: Record<string, DataSpec>;
  /** True under `reclab serve`: the Service page reads the service's own routes. */
  service?: boolean;
  /** Seed of ballot sampling (default: the clock). */
  seed?: number;
}

/** A client error with its status, answered as `{ error }`. */
class UiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const text = (q: unknown, field: string): string => {
  const v = (q as Record<string, unknown>)[field];
  if (typeof v !== 'string' || v === '') throw new UiError(400, `${field}: required`);
  return v;
};

/** A voter id: what people type as their name, kept short and printable. */
function voterOf(raw: unknown): string {
  if (typeof raw !== 'string' || !/^[\p{L}\p{N} ._@-]{1,64}$/u.test(raw)) throw new UiError(400, 'voter: 1–64 letters, digits, spaces or . _ @ -');
  return raw;
}

/** Registers the dashboard on `app` (prefix it with `/ui`). */
export async function uiPlugin(app: FastifyInstance, options: UiOptions): Promise<void> {
  const roots = options.roots ?? ['runs', 'docs/results'];
  const { shell, files } = loadAssets();
  const datasets = new DataViews(options.datasets ?? {});
  const voting = new Voting(options.votes, options.seed);
  const expected = options.apiKey ? createHash('sha256').update(options.apiKey).digest() : undefined;

  const find = (id: string, kinds: readonly EntryKind[]): CatalogEntry => {
    const e = scanCatalog(roots).find((x) => x.id === id);
    if (!e || !kinds.includes(e.kind)) throw new UiError(404, `id: no ${kinds.join(' or ')} "${id}" under ${roots.join(', ')}`);
    return e;
  };

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Content-Security-Policy', CSP);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });
  app.setErrorHandler((e: Error & { statusCode?: number }, _request, reply) => {
    const status = e instanceof UiError ? e.statusCode : e instanceof RangeError ? 400 : (e.statusCode ?? 500);
    // Errors of reading a file name the file; anything else with a 500 is a bug, said briefly.
    reply.code(status).send({ error: status < 500 || /: not (valid JSON|a reclab)/.test(e.message) ? e.message : `internal error: ${e.message}` });
  });

  app.get('/', async (request, reply) => {
    // The shell's asset URLs are relative: `/ui` must become `/ui/` before they resolve.
    if (!request.url.split('?')[0].endsWith('/')) return reply.redirect(`${app.prefix}/`);
    return reply.type(shell.type).header('Cache-Control', 'no-cache').send(shell.body);
  });
  app.get('/assets/:name', async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const a = files.get(request.params.name);
    if (!a) throw new UiError(404, `no asset "${request.params.name}"`);
    return reply.type(a.type).header('Cache-Control', 'no-cache').send(a.body);
  });

  await app.register(async (api) => {
    api.addHook('onRequest', async (request) => {
      if (!expected) return;
      const given = request.headers['x-api-key'];
      const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
      if (typeof given !== 'string' || !timingSafeEqual(digest, expected)) throw new UiError(401, 'missing or wrong X-API-Key');
    });

    api.get('/config', async () => ({ service: options.service ?? false, datasets: datasets.names(), roots }));
    api.get('/catalog', async () => scanCatalog(roots).map(({ id, kind, path, root, mtime }) => ({ id, kind, path, root, mtime })));
    api.get('/result', async (request) => resultView(find(text(request.query, 'id'), ['result'])));
    api.get('/curves', async (request) => {
      const ids = text(request.query, 'ids').split(',').filter(Boolean);
      if (ids.length > 20) throw new UiError(400, 'ids: at most 20 files at once');
      return ids.flatMap((id) => {
        const e = find(id, ['trace', 'result']);
        return e.kind === 'trace' ? traceCurves(e) : resultCurves(e);
      });
    });
    api.get('/diff', async (request) => configDiff(find(text(request.query, 'a'), ['result']), find(text(request.query, 'b'), ['result'])));
    api.get('/data', async (request) => {
      const name = text(request.query, 'name');
      const v = datasets.get(name);
      if (!v) throw new UiError(404, `name: no dataset "${name}" (configured: ${datasets.names().join(', ') || 'none'})`);
      return v;
    });
    api.get('/laws/fit', async (request) => {
      const e = find(text(request.query, 'id'), ['law-fit']);
      return fitView(e, readFit(e));
    });
    api.get('/laws/sr', async (request) => srPredict(readFit(find(text(request.query, 'id'), ['law-fit'])), request.query as Record<string, unknown>));
    api.get('/laws/llm', async (request) => llmPredict(request.query as Record<string, unknown>));
    api.get('/arena', async (request) => {
      const e = find(text(request.query, 'id'), ['arena']);
      return arenaView(e, readArena(e));
    });
    api.get('/arena/ballot', async (request) => {
      const id = text(request.query, 'id');
      const doc = readArena(find(id, ['arena']));
      if (!doc.pool) throw new UiError(409, 'this Arena report has no voting pool (re-run `reclab arena` to save one)');
      return (await voting.ballot(id, doc.pool, voterOf((request.query as Record<string, unknown>).voter))) ?? { done: true };
    });
    api.post('/arena/vote', async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const r = await voting.vote(text(body, 'ballot'), voterOf(body.voter), text(body, 'choice'));
      if (!r.ok) return reply.code(r.status).send({ error: r.message });
      return { stored: true };
    });
    api.get('/arena/human', async (request) => voting.summary(readArena(find(text(request.query, 'id'), ['arena']))));
    api.get('/arena/votes.jsonl', async (request, reply) => {
      const doc = readArena(find(text(request.query, 'id'), ['arena']));
      const votes = doc.pool ? await voting.votesOf(doc.pool) : [];
      return reply.type('application/x-ndjson; charset=utf-8').header('Content-Disposition', 'attachment; filename="votes.jsonl"').send(votesJsonl(votes));
    });
  }, { prefix: '/api' });
}
