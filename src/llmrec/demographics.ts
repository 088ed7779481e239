/**
 * A user's profile features from the data — MovieLens 100K / 1M ship age, gender and occupation
 * — as one line a judge can read (`age 24, gender M, occupation technician`). The RecSys Arena
 * gives its judge these alongside the history.
 */
import type { Dataset } from '../data/types.ts';

/** Columns never shown: location codes say little about taste and much about the person. */
const HIDDEN = new Set(['zip', 'zipcode', 'zip_code', 'zip-code']);

/** The user's side-table features as `name value` pairs joined by commas; undefined when the data has none. */
export function userDemographics(dataset: Pick<Dataset, 'userSide'>, u: number): string | undefined {
  const side = dataset.userSide;
  if (!side) return undefined;
  const parts: string[] = [];
  for (const [name, col] of Object.entries(side.columns)) {
    if (HIDDEN.has(name.toLowerCase())) continue;
    let value: string | undefined;
    if (col.type === 'token') value = col.values[u] >= 0 ? col.vocab.toRaw(col.values[u]) : undefined;
    else if (col.type === 'float') value = Number.isNaN(col.values[u]) ? undefined : String(col.values[u]);
    else if (col.type === 'text') value = col.values[u] ?? undefined;
    if (value !== undefined && value !== '') parts.push(`${name} ${value}`);
  }
  return parts.length ? parts.join(', ') : undefined;
}
