/** The served model: what answers now, and swapping another in (on every replica). */
import * as S from '../schemas.ts';
import { httpError } from '../http.ts';
import { errors, tag, type Api, type ServeContext } from './context.ts';

/** Registers the model routes on `api`. */
export function modelRoutes(api: Api, { slot, swapEverywhere }: ServeContext): void {
  const status = async () => {
    const m = slot.current;
    return {
      Name: m?.name ?? null,
      Version: m?.version ?? null,
      Sequential: m?.sequential ?? false,
      Dataset: m?.dataset ?? null,
      Users: m?.users.size ?? 0,
      Items: m?.items.size ?? 0,
      Swaps: slot.swaps,
      Available: await slot.available(),
    };
  };
  api.get('/model', { schema: { ...tag('model'), response: { 200: S.ModelStatus, ...errors } } }, status);
  api.put(
    '/model',
    { schema: { ...tag('model'), summary: 'Load a model and swap it in atomically', body: S.ModelSelect, response: { 200: S.ModelStatus, ...errors } } },
    async (request) => {
      try {
        await swapEverywhere(request.body.Name);
      } catch (e) {
        throw httpError(400, `model not swapped, the previous one keeps serving: ${(e as Error).message}`);
      }
      return status();
    },
  );
}
