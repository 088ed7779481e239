/**
 * User neighbours (`GET /api/user/{id}/neighbors`): users whose training histories are most like
 * a user's — cosine similarity of their item sets (overlap / √(|a|·|b|)) over the served model's
 * training events, through an item → users index built once per model. Gorse computes user
 * neighbours from feedback the same way (similar users share items).
 */
import { topK } from '../models/topk.ts';
import type { ServedModel } from './bundle.ts';

/** Neighbours of a user as (raw user id, similarity), best first; the index kept for the last model asked. */
export class UserNeighbors {
  private index?: { served: ServedModel; offsets: Int32Array; users: Int32Array };

  /** The `offset`… `offset + n` most similar users to `user` (none when the model does not know them). */
  find(served: ServedModel, user: string, offset: number, n: number): { id: string; score: number }[] {
    const u = served.users.get(user);
    if (u === undefined) return [];
    const h = served.history;
    const index = this.itemUsers(served);
    const overlap = new Float32Array(h.nUsers);
    const mine = new Set(h.items.subarray(h.offsets[u], h.offsets[u + 1]));
    for (const i of mine) for (let p = index.offsets[i]; p < index.offsets[i + 1]; p++) overlap[index.users[p]]++;
    const size = (v: number) => new Set(h.items.subarray(h.offsets[v], h.offsets[v + 1])).size;
    for (let v = 0; v < overlap.length; v++) if (overlap[v] > 0) overlap[v] /= Math.sqrt(mine.size * size(v));
    const top = topK(overlap, offset + n, (v) => v === u || overlap[v] <= 0);
    const out: { id: string; score: number }[] = [];
    for (let r = offset; r < top.items.length; r++) out.push({ id: served.users.toRaw(top.items[r]), score: top.scores[r] });
    return out;
  }

  /** The served model's item → users index (CSR, each user once per item), built once per model. */
  private itemUsers(served: ServedModel): { offsets: Int32Array; users: Int32Array } {
    if (this.index?.served === served) return this.index;
    const h = served.history;
    const pairs = new Set<number>();
    const counts = new Int32Array(served.items.size + 1);
    const byUser: [number, number][] = [];
    for (let v = 0; v < h.nUsers; v++) {
      pairs.clear();
      for (let p = h.offsets[v]; p < h.offsets[v + 1]; p++) {
        const i = h.items[p];
        if (pairs.has(i)) continue;
        pairs.add(i);
        counts[i + 1]++;
        byUser.push([i, v]);
      }
    }
    for (let i = 0; i < served.items.size; i++) counts[i + 1] += counts[i];
    const users = new Int32Array(byUser.length);
    const fill = counts.slice(0, served.items.size);
    for (const [i, v] of byUser) users[fill[i]++] = v;
    this.index = { served, offsets: counts, users };
    return this.index;
  }
}
