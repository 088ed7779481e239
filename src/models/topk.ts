/**
 * Top-k selection by partial selection (a bounded min-heap), never a full sort: O(n log k).
 * Shared by `recommend`, the evaluator and the server.
 */

/** Result of a top-k selection: item ids and their scores, best first. */
export interface TopK {
  items: Int32Array;
  scores: Float32Array;
}

/**
 * The `k` highest-scoring indices of `scores`, best first. Indices for which `exclude` is true
 * are skipped. Ties are broken by the lower index (deterministic). Returns fewer than `k`
 * entries when fewer candidates remain. NaN scores are treated as −∞ and never selected.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: (index: number) => boolean): TopK {
  const heapItems = new Int32Array(Math.max(0, k));
  const heapScores = new Float32Array(Math.max(0, k));
  let size = 0;
  // The heap root is the worst kept entry: lowest score, and among equal scores the highest index.
  const worse = (sa: number, ia: number, sb: number, ib: number): boolean => sa < sb || (sa === sb && ia > ib);
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && worse(heapScores[l], heapItems[l], heapScores[w], heapItems[w])) w = l;
      if (r < size && worse(heapScores[r], heapItems[r], heapScores[w], heapItems[w])) w = r;
      if (w === i) return;
      const ts = heapScores[i];
      const ti = heapItems[i];
      heapScores[i] = heapScores[w];
      heapItems[i] = heapItems[w];
      heapScores[w] = ts;
      heapItems[w] = ti;
      i = w;
    }
  };
  if (k > 0) {
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s !== s) continue; // NaN
      if (exclude && exclude(i)) continue;
      if (size < k) {
        // Sift up.
        let j = size++;
        heapScores[j] = s;
        heapItems[j] = i;
        while (j > 0) {
          const p = (j - 1) >> 1;
          if (!worse(heapScores[j], heapItems[j], heapScores[p], heapItems[p])) break;
          const ts = heapScores[j];
          const ti = heapItems[j];
          heapScores[j] = heapScores[p];
          heapItems[j] = heapItems[p];
          heapScores[p] = ts;
          heapItems[p] = ti;
          j = p;
        }
      } else if (worse(heapScores[0], heapItems[0], s, i)) {
        heapScores[0] = s;
        heapItems[0] = i;
        siftDown(0);
      }
    }
  }
  // Pop worst-first into the tail to get best-first order.
  const items = new Int32Array(size);
  const outScores = new Float32Array(size);
  for (let n = size; n > 0; n--) {
    items[n - 1] = heapItems[0];
    outScores[n - 1] = heapScores[0];
    size--;
    heapItems[0] = heapItems[size];
    heapScores[0] = heapScores[size];
    siftDown(0);
  }
  return { items, scores: outScores };
}
