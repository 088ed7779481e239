/**
 * Admin routes of the production loop: start a retrain, read the record of retrains, roll back.
 *
 * They sit in the guarded /api scope (rate limit, X-API-Key) and are refused (403) unless the
 * service runs with an API key — an open development server must not let anyone replace its
 * model — and, when `--admin-key` is set, unless `X-Admin-Key` carries it too.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { Type } from 'typebox';
import * as S from '../schemas.ts';
import { httpError } from '../http.ts';
import type { RetrainRecord } from '../retrain.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** Registers the admin routes on `api`; `keys` say whether admin calls are allowed and how. */
export function adminRoutes(api: Api, { retrainer }: ServeContext, keys: { apiKey?: string; adminKey?: string }): void {
  const admin = keys.adminKey ? createHash('sha256').update(keys.adminKey).digest() : undefined;
  /** The admin check: a preValidation hook, so a refused caller learns nothing from body validation. */
  const check = (request: { headers: Record<string, string | string[] | undefined> }) => {
    if (!keys.apiKey) throw httpError(403, 'admin routes are disabled: start the service with --api-key (and optionally --admin-key)');
    if (admin) {
      const given = request.headers['x-admin-key'];
      const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
      if (!timingSafeEqual(digest, admin)) throw httpError(403, 'missing or wrong X-Admin-Key');
    }
  };
  const preValidation = async (request: { headers: Record<string, string | string[] | undefined> }) => check(request);
  const guard = (_request: unknown) => {
    if (!retrainer) throw httpError(409, 'retraining is off in this process (start with --retrain-every, or --retrain-every 0 for on-demand only)');
    return retrainer;
  };
  const recordOut = (r: RetrainRecord) => ({ ...r, figures: r.figures ?? null, bundle: r.bundle ?? null, swapped: r.swapped ?? false });
  const adminErrors = { ...errors, 403: S.ErrorOut, 409: S.ErrorOut };

  api.post(
    '/model/retrain',
    {
      preValidation,
      schema: {
        ...tag('admin'),
        summary: 'Retrain from the stored feedback now; swapped in only if the gate passes (Wait: answer when done)',
        body: Type.Optional(S.RetrainBody),
        response: { 200: S.RetrainRecordOut, 202: Type.Object({ Status: Type.String(), Running: Type.Boolean() }), ...adminErrors },
      },
    },
    async (request, reply) => {
      const r = guard(request);
      const body = request.body ?? {};
      const done = r.run('admin', body.Control === 'shuffled' ? 'shuffled' : undefined);
      if (!body.Wait) {
        done.catch(() => {}); // recorded and logged by the retrainer
        return reply.status(202).send({ Status: 'retrain started; GET /api/model/retrains for its outcome', Running: true });
      }
      return recordOut(await done);
    },
  );
  api.get(
    '/model/retrains',
    { preValidation, schema: { ...tag('admin'), summary: 'The latest retrains with their gate figures, newest last', response: { 200: Type.Object({ Running: Type.Boolean(), Retrains: Type.Array(S.RetrainRecordOut) }), ...adminErrors } } },
    async (request) => {
      const { running, records } = await guard(request).status();
      return { Running: running, Retrains: records.map(recordOut) };
    },
  );
  api.post(
    '/model/rollback',
    { preValidation, schema: { ...tag('admin'), summary: 'Swap back to the model served before the last retrain or rollback', response: { 200: Type.Object({ From: Type.String(), To: Type.String() }), ...adminErrors } } },
    async (request) => {
      const r = guard(request);
      const { from, to } = await r.rollback();
      return { From: from, To: to };
    },
  );
}
