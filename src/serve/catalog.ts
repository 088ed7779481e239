/**
 * The item catalogue cache: hidden flags, categories and publication times of every item in the
 * store, kept in memory because every recommendation filters on them. Each replica follows the
 * store's item revisions (`itemsChangedSince`), so a change made through any replica reaches all
 * of them within one refresh interval, and at once in the replica that made it.
 */
import type { ItemRecord, Store } from './store.ts';
import type { ServedModel } from './bundle.ts';

/** Masks over one model's dense item ids, derived from the catalogue. */
interface Masks {
  model: ServedModel;
  version: number;
  hidden: Uint8Array;
  byCategory: Map<string, Uint8Array>;
}

/** In-memory view of the store's items. */
export class Catalog {
  private readonly items = new Map<string, ItemRecord>();
  private rev = 0;
  /** Bumped on every change, so derived caches know when to rebuild. */
  version = 0;
  private masks?: Masks;
  private latestCache?: { version: number; list: ItemRecord[] };
  private refreshing?: Promise<void>;

  constructor(private readonly store: Store) {}

  /** Pulls item changes from the store (concurrent callers share one query). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const changes = await this.store.itemsChangedSince(this.rev);
        for (const c of changes) {
          if (c.deleted) this.items.delete(c.item.id);
          else this.items.set(c.item.id, c.item);
          this.rev = Math.max(this.rev, c.rev);
        }
        if (changes.length > 0) this.version++;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** The item, when the catalogue knows it. */
  get(id: string): ItemRecord | undefined {
    return this.items.get(id);
  }

  /** Number of items known. */
  get size(): number {
    return this.items.size;
  }

  /** True when the item may be shown (unknown items are visible: the model knows them). */
  visible(id: string): boolean {
    return !(this.items.get(id)?.hidden ?? false);
  }

  /** True when the item is in `category` (catalogue first, then the model's own categories). */
  inCategory(id: string, category: string, fallback?: readonly string[]): boolean {
    const item = this.items.get(id);
    return (item ? item.categories : (fallback ?? [])).includes(category);
  }

  /** Masks over `model`'s dense ids: hidden items, and items outside `category` when given. */
  masksFor(model: ServedModel, category?: string): { hidden: Uint8Array; outside?: Uint8Array } {
    let m = this.masks;
    if (!m || m.model !== model || m.version !== this.version) {
      const hidden = new Uint8Array(model.items.size);
      for (let i = 0; i < hidden.length; i++) if (!this.visible(model.items.toRaw(i))) hidden[i] = 1;
      m = { model, version: this.version, hidden, byCategory: new Map() };
      this.masks = m;
    }
    if (category === undefined) return { hidden: m.hidden };
    let outside = m.byCategory.get(category);
    if (!outside) {
      outside = new Uint8Array(model.items.size);
      for (let i = 0; i < outside.length; i++) {
        if (!this.inCategory(model.items.toRaw(i), category, model.itemCategories[i])) outside[i] = 1;
      }
      // Bounded: categories come from requests, so an attacker could otherwise grow this map.
      if (m.byCategory.size >= 256) m.byCategory.clear();
      m.byCategory.set(category, outside);
    }
    return { hidden: m.hidden, outside };
  }

  /** Visible items, newest publication time first (ties by id). */
  latest(): ItemRecord[] {
    if (!this.latestCache || this.latestCache.version !== this.version) {
      const list = [...this.items.values()].filter((it) => !it.hidden);
      list.sort((a, b) => b.time - a.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      this.latestCache = { version: this.version, list };
    }
    return this.latestCache.list;
  }
}
