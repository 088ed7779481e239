/**
 * Data of the retrain-loop tests (retrain.test.ts, retrain-cluster.test.ts): 4 groups of 10 items
 * (g<k>i<j>); 60 users each clicked 6 items of their group. The new feedback adds a fifth group of
 * items n0–n4, which the base model has never seen, clicked by 30 new users, and more clicks of
 * the old users within their groups.
 */
import { IdMap } from '../../src/data/types.ts';
import { fromSequences } from '../../src/data/interactions.ts';
import { createModel } from '../../src/models/registry.ts';
import { saveBundle } from '../../src/serve/bundle.ts';
import { Rng } from '../../src/util/rng.ts';

export const group = (k: number) => Array.from({ length: 10 }, (_, j) => `g${k}i${j}`);
export const NEW = ['n0', 'n1', 'n2', 'n3', 'n4'];

/** The base bundle: EASE (or `model` with `config`) on 60 users × 6 clicks within their group. */
export async function writeBase(dir: string, model = 'ease', config: Record<string, unknown> = { lambda: 10 }): Promise<void> {
  const rng = new Rng(7);
  const items = [0, 1, 2, 3].flatMap(group);
  const itemIds = IdMap.fromRaw(items);
  const users = Array.from({ length: 60 }, (_, u) => `u${u}`);
  const sequences = users.map((_, u) => {
    const pool = group(u % 4);
    const picked = new Set<string>();
    while (picked.size < 6) picked.add(pool[rng.int(10)]);
    return [...picked].map((id) => itemIds.get(id)!);
  });
  const history = fromSequences(sequences, items.length);
  const fitted = createModel(model, config);
  await fitted.fit(history, { seed: 1 });
  await fitted.save(dir);
  await saveBundle(dir, { name: 'groups', fingerprint: 'groups', userIds: IdMap.fromRaw(users), itemIds, history });
}

/** New feedback in arrival order: new users on the new items, old users within their groups, interleaved. */
export function newFeedback(round: number): { FeedbackType: string; UserId: string; ItemId: string; Timestamp: string }[] {
  const rng = new Rng(100 + round);
  const out: { FeedbackType: string; UserId: string; ItemId: string; Timestamp: string }[] = [];
  let t = Date.UTC(2025, 0, 1 + round) / 1000;
  const at = () => new Date(1000 * t++).toISOString();
  for (let v = 0; v < 30; v++) {
    // v clicks three of the five new items (a rotation, so every pair co-occurs).
    for (let k = 0; k < 3; k++) out.push({ FeedbackType: 'click', UserId: `v${round}-${v}`, ItemId: NEW[(v + k) % 5], Timestamp: at() });
    // and an old user clicks two more items of their group.
    const u = rng.int(60);
    for (let k = 0; k < 2; k++) out.push({ FeedbackType: 'click', UserId: `u${u}`, ItemId: group(u % 4)[rng.int(10)], Timestamp: at() });
  }
  return out;
}
