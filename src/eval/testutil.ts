/** Test helpers for evaluation: a model that returns a fixed score table. */
import type { Interactions } from '../data/types.ts';
import type { Recommender } from '../models/recommender.ts';

/** A Recommender whose score for (u, i) is `table[u·nItems + i]`; counts calls for tests. */
export class TableModel implements Recommender {
  readonly name = 'table';
  readonly config = {};
  calls = 0;
  constructor(
    readonly table: Float32Array,
    readonly nItems: number,
  ) {}
  async fit(): Promise<never> {
    throw new Error('TableModel cannot be trained');
  }
  scoreUsers(users: Int32Array, _history: Interactions, out: Float32Array): void {
    this.calls++;
    users.forEach((u, r) => out.set(this.table.subarray(u * this.nItems, (u + 1) * this.nItems), r * this.nItems));
  }
  async save(): Promise<void> {}
}
