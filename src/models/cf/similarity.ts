/**
 * Set-overlap similarities of the neighbourhood models (ItemKNN, UserKNN). For two sets a, b
 * (users of two items, or items of two users) with overlap c = |a ∩ b|:
 *   cosine      c / (√(|a|·|b|) + shrink)
 *   asymmetric  c / (|a|^α · |b|^(1−α) + shrink)     (Aiolli 2013; α = 0.5 is cosine)
 *   jaccard     c / (|a| + |b| − c + shrink)
 * Shrinkage (Koren 2008) pulls similarities resting on few co-occurrences towards 0.
 */

/** Similarity kinds. */
export type SimilarityKind = 'cosine' | 'asymmetric' | 'jaccard';

/** Names accepted in configs. */
export const SIMILARITIES: SimilarityKind[] = ['cosine', 'asymmetric', 'jaccard'];

/** Similarity from overlap `c` and set sizes `na` (the "from" side) and `nb`. */
export function similarity(kind: SimilarityKind, c: number, na: number, nb: number, shrink: number, alpha: number): number {
  if (c === 0) return 0;
  switch (kind) {
    case 'cosine':
      return c / (Math.sqrt(na * nb) + shrink);
    case 'asymmetric':
      return c / (na ** alpha * nb ** (1 - alpha) + shrink);
    case 'jaccard':
      return c / (na + nb - c + shrink);
  }
}
