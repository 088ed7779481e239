/**
 * Metrics of click-through-rate prediction: a predicted probability p_e for each impression e with
 * label y_e ∈ {0, 1}.
 *
 * - **AUC** = P(p⁺ > p⁻) over all (positive, negative) pairs, ties counting ½ — computed from
 *   ranks (Mann–Whitney): AUC = (Σ_{e ∈ pos} rank_e − n⁺(n⁺ + 1)/2) / (n⁺·n⁻), with average
 *   ranks for tied scores.
 * - **GAUC** (group AUC, as in DIN) = Σ_u w_u·AUC_u / Σ_u w_u over users with both a positive and
 *   a negative impression, w_u = the user's number of impressions.
 * - **LogLoss** = −(1/n) Σ_e [y_e log p_e + (1 − y_e) log(1 − p_e)], p clipped to [1e-7, 1 − 1e-7].
 */

/** A metric of CTR prediction. */
export interface CtrMetric {
  name: 'auc' | 'gauc' | 'logloss';
  /** True when higher is better. */
  higherIsBetter: boolean;
  formula: string;
  compute(labels: ArrayLike<number>, probs: ArrayLike<number>, groups?: ArrayLike<number>): number;
}

/** AUC by the rank-sum formula (average ranks for ties); NaN without both classes. */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  if (scores.length !== n) throw new Error(`auc: ${n} labels but ${scores.length} scores`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j + 2) / 2; // 1-based ranks i+1 … j+1
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] > 0.5) {
        nPos++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Per-group AUC: group ids, their AUC (NaN when one class is missing) and impression counts. */
export function groupAuc(labels: ArrayLike<number>, scores: ArrayLike<number>, groups: ArrayLike<number>): { groups: Int32Array; auc: Float64Array; count: Int32Array } {
  const byGroup = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    let l = byGroup.get(groups[i]);
    if (!l) byGroup.set(groups[i], (l = []));
    l.push(i);
  }
  const ids = [...byGroup.keys()].sort((a, b) => a - b);
  const out = { groups: Int32Array.from(ids), auc: new Float64Array(ids.length), count: new Int32Array(ids.length) };
  ids.forEach((g, k) => {
    const idx = byGroup.get(g)!;
    out.auc[k] = auc(idx.map((i) => labels[i]), idx.map((i) => scores[i]));
    out.count[k] = idx.length;
  });
  return out;
}

/** GAUC: impression-weighted mean of the per-user AUCs defined (users with both classes). */
export function gauc(labels: ArrayLike<number>, scores: ArrayLike<number>, groups: ArrayLike<number>): number {
  const g = groupAuc(labels, scores, groups);
  let num = 0;
  let den = 0;
  for (let k = 0; k < g.auc.length; k++) {
    if (Number.isNaN(g.auc[k])) continue;
    num += g.count[k] * g.auc[k];
    den += g.count[k];
  }
  return den > 0 ? num / den : NaN;
}

const CLIP = 1e-7;

/** Per-impression log loss −[y log p + (1 − y) log(1 − p)], p clipped to [1e-7, 1 − 1e-7]. */
export function logLossOne(y: number, p: number): number {
  const q = Math.min(1 - CLIP, Math.max(CLIP, p));
  return -(y * Math.log(q) + (1 - y) * Math.log(1 - q));
}

/** Mean log loss. */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  if (probs.length !== labels.length) throw new Error(`logloss: ${labels.length} labels but ${probs.length} predictions`);
  let s = 0;
  for (let i = 0; i < labels.length; i++) s += logLossOne(labels[i], probs[i]);
  return s / Math.max(1, labels.length);
}

/** The three metric objects, by name. */
export const CTR_METRICS: Record<CtrMetric['name'], CtrMetric> = {
  auc: { name: 'auc', higherIsBetter: true, formula: 'AUC = (Σ_{pos} rank − n⁺(n⁺+1)/2) / (n⁺·n⁻), average ranks for ties', compute: (y, p) => auc(y, p) },
  gauc: {
    name: 'gauc',
    higherIsBetter: true,
    formula: 'GAUC = Σ_u n_u·AUC_u / Σ_u n_u over users with both classes',
    compute: (y, p, g) => {
      if (!g) throw new Error('gauc needs the user of each impression');
      return gauc(y, p, g);
    },
  },
  logloss: { name: 'logloss', higherIsBetter: false, formula: 'LogLoss = −mean(y log p + (1−y) log(1−p)), p ∈ [1e-7, 1−1e-7]', compute: (y, p) => logLoss(y, p) },
};

/** All three metrics of one prediction set. */
export function ctrMetrics(labels: ArrayLike<number>, probs: ArrayLike<number>, users: ArrayLike<number>): { auc: number; gauc: number; logloss: number } {
  return { auc: auc(labels, probs), gauc: gauc(labels, probs, users), logloss: logLoss(labels, probs) };
}
