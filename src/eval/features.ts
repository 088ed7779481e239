/** Item features for intra-list diversity, taken from a dataset's item side table. */
import type { Dataset } from '../data/types.ts';
import type { ItemFeatures } from './metrics.ts';

/**
 * Builds {@link ItemFeatures} from item side column `column`: token lists (e.g. genres) and single
 * tokens become sets (Jaccard distance); float vectors become vectors (cosine distance). Missing
 * values become empty sets / zero vectors (distance 0 to everything).
 */
export function itemFeatures(dataset: Pick<Dataset, 'itemSide' | 'nItems' | 'name'>, column: string): ItemFeatures {
  const col = dataset.itemSide?.columns[column];
  if (!col) {
    const known = Object.keys(dataset.itemSide?.columns ?? {});
    throw new Error(`${dataset.name}: no item column "${column}" for ild (item columns: ${known.join(', ') || 'none'})`);
  }
  const n = dataset.nItems;
  switch (col.type) {
    case 'token_seq':
      return { kind: 'sets', offsets: col.offsets, values: col.values };
    case 'token': {
      const offsets = new Int32Array(n + 1);
      const values: number[] = [];
      for (let i = 0; i < n; i++) {
        if (col.values[i] >= 0) values.push(col.values[i]);
        offsets[i + 1] = values.length;
      }
      return { kind: 'sets', offsets, values: Int32Array.from(values) };
    }
    case 'float_seq': {
      let dim = 0;
      for (let i = 0; i < n; i++) dim = Math.max(dim, col.offsets[i + 1] - col.offsets[i]);
      const values = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) values.set(col.values.subarray(col.offsets[i], col.offsets[i + 1]), i * dim);
      return { kind: 'vectors', dim, values };
    }
    default:
      throw new Error(`${dataset.name}: item column "${column}" is ${col.type}; ild needs a token, token list or float vector column`);
  }
}
