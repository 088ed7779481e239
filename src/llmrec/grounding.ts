/**
 * Grounding: mapping the free-text titles an LLM writes back to catalogue item ids, in three
 * steps, cheapest and surest first —
 *
 * 1. exact: the title exactly as in the catalogue;
 * 2. normalised: case, accents, punctuation, a trailing year and MovieLens-style moved articles
 *    ("Matrix, The (1999)" ↔ "The Matrix") ignored;
 * 3. embedding: the nearest catalogue title by cosine similarity, accepted above a threshold.
 *
 * An output that passes none of them matches no catalogue item: a hallucination. When a
 * candidate set is given (ranking a candidate list), steps 2 and 3 prefer its members, so a
 * near-duplicate title outside the list cannot steal the match.
 */
import type { Embedder } from '../llm/index.ts';
import { HashedNgramEmbedder, dot } from '../llm/index.ts';
import type { ItemCatalogue } from './catalogue.ts';

/** How a text was matched. */
export type GroundMethod = 'exact' | 'normalised' | 'embedding' | 'none';

/** A grounding result: the item (−1 for none), how, and the similarity (1 for exact/normalised). */
export interface Grounded {
  item: number;
  method: GroundMethod;
  score: number;
}

const ARTICLES = ['the', 'a', 'an', 'les', 'la', 'le', 'il', 'el', 'das', 'der', 'die', 'l'];

/** The normal form of a title: lowercase, no accents, no year, no leading or moved-back article, punctuation → space. */
export function normaliseTitle(title: string): string {
  let t = title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
  t = t.replace(/^\s*\d+\s*[.)]\s+/, ''); // leading list numbering "3. "
  t = t.replace(/\s*\((?:\d{4})\)\s*$/, ''); // trailing year
  // "matrix, the" → "the matrix"; also inside "x, the (a.k.a. y)" forms at the end.
  // "matrix, the" and "the matrix" both become "matrix": articles are dropped wherever LLMs put them.
  const m = /^(.*),\s*([a-z]+)$/.exec(t);
  if (m && ARTICLES.includes(m[2])) t = m[1];
  t = t.replace(/[^a-z0-9]+/g, ' ').trim();
  const first = t.indexOf(' ');
  if (first > 0 && ARTICLES.includes(t.slice(0, first))) t = t.slice(first + 1);
  return t;
}

/** The form compared by embeddings: the normal form plus the year when the text has one (a strong cue between remakes and sequels). */
export function embeddingForm(title: string): string {
  const year = /\((\d{4})\)\s*$/.exec(title.trim());
  return year ? `${normaliseTitle(title)} ${year[1]}` : normaliseTitle(title);
}

/** Options of {@link Grounder}. */
export interface GrounderOptions {
  /** Embedder for step 3 (default: hashed character n-grams — robust to spelling, no model). */
  embedder?: Embedder;
  /**
   * Minimum cosine similarity for an embedding match (default 0.6: on ML-1M titles with the
   * hashed embedder, typos and partial titles — "Matirx, The (1999)", "Star Wars: A New Hope",
   * "Godfather Part 2" — score 0.6–0.73 against the right film, invented titles 0.3–0.52
   * against their nearest film).
   */
  threshold?: number;
}

/** Grounds titles against one catalogue. */
export class Grounder {
  private readonly exact = new Map<string, number>();
  private readonly normal = new Map<string, number[]>();
  private vectors?: Promise<Float32Array[]>;
  readonly embedder: Embedder;
  readonly threshold: number;

  constructor(
    readonly catalogue: ItemCatalogue,
    options: GrounderOptions = {},
  ) {
    this.embedder = options.embedder ?? new HashedNgramEmbedder();
    this.threshold = options.threshold ?? 0.6;
    catalogue.titles.forEach((t, i) => {
      if (!this.exact.has(t)) this.exact.set(t, i);
      const k = normaliseTitle(t);
      const list = this.normal.get(k);
      if (list) list.push(i);
      else this.normal.set(k, [i]);
    });
  }

  private catalogueVectors(): Promise<Float32Array[]> {
    // Normalised forms: years, articles and punctuation would only add noise to the similarity.
    this.vectors ??= this.embedder.embed(this.catalogue.titles.map(embeddingForm));
    return this.vectors;
  }

  /** Grounds one text; `within` restricts preferences to a candidate set. */
  async ground(text: string, within?: ReadonlySet<number>): Promise<Grounded> {
    const t = text.trim();
    const exact = this.exact.get(t);
    if (exact !== undefined && (!within || within.has(exact))) return { item: exact, method: 'exact', score: 1 };
    const ids = this.normal.get(normaliseTitle(t));
    const inside = within ? ids?.find((i) => within.has(i)) : undefined;
    if (inside !== undefined) return { item: inside, method: 'normalised', score: 1 };
    if (exact !== undefined) return { item: exact, method: 'exact', score: 1 };
    if (ids?.length) return { item: ids[0], method: 'normalised', score: 1 };
    const [q] = await this.embedder.embed([embeddingForm(t)]);
    const vecs = await this.catalogueVectors();
    let best = -1;
    let bestScore = -Infinity;
    let bestIn = -1;
    let bestInScore = -Infinity;
    for (let i = 0; i < vecs.length; i++) {
      const s = dot(q, vecs[i]);
      if (s > bestScore) [best, bestScore] = [i, s];
      if (within?.has(i) && s > bestInScore) [bestIn, bestInScore] = [i, s];
    }
    if (bestIn >= 0 && bestInScore >= this.threshold) return { item: bestIn, method: 'embedding', score: bestInScore };
    if (best >= 0 && bestScore >= this.threshold) return { item: best, method: 'embedding', score: bestScore };
    return { item: -1, method: 'none', score: Math.max(bestScore, 0) };
  }
}
