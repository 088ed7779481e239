/** A user's history as text an LLM can read: one entry per event, with title, genres and rating. */
import type { Interactions } from '../data/types.ts';
import type { ItemCatalogue } from './catalogue.ts';

/** One item as shown to an LLM. */
export interface ItemEntry {
  id: number;
  title: string;
  genres: string[];
}

/** One history event. */
export interface HistoryEntry extends ItemEntry {
  /** The user's rating, when the data has one. */
  rating?: number;
}

/** The catalogue entry of item `id`. */
export function itemEntry(catalogue: ItemCatalogue, id: number): ItemEntry {
  if (!(id >= 0 && id < catalogue.n)) throw new RangeError(`item ${id} outside the catalogue (0..${catalogue.n - 1})`);
  return { id, title: catalogue.titles[id], genres: catalogue.genres[id] };
}

/** User `u`'s events in `data` (oldest first), the last `lastN` of them when given. */
export function userHistory(data: Interactions, u: number, catalogue: ItemCatalogue, lastN?: number): HistoryEntry[] {
  const start = data.offsets[u];
  const end = data.offsets[u + 1];
  const from = lastN === undefined ? start : Math.max(start, end - lastN);
  const out: HistoryEntry[] = [];
  for (let p = from; p < end; p++) {
    const e: HistoryEntry = itemEntry(catalogue, data.items[p]);
    if (data.values) e.rating = data.values[p];
    out.push(e);
  }
  return out;
}

/** Numbered lines `i. title | genres | rating` ("-" for unknown genres or rating). */
export function formatHistory(history: readonly HistoryEntry[]): string {
  return history.map((h, i) => `${i + 1}. ${h.title} | ${h.genres.length ? h.genres.join(', ') : '-'} | ${h.rating ?? '-'}`).join('\n');
}

/** Numbered lines `i. title | genres`. */
export function formatItems(items: readonly ItemEntry[]): string {
  return items.map((h, i) => `${i + 1}. ${h.title} | ${h.genres.length ? h.genres.join(', ') : '-'}`).join('\n');
}
