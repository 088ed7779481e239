// Why random outlives popularity and greedy in NX_0 (W = 3, threshold 1): genre labels per item
// and genre overlap of consecutive picks. Run from the repository root: node --import tsx docs/results/sim-ml100k/explain-quit.ts
import { loadDataset } from '../../../src/data/load.ts';
import { categoriesFromSide, wouldQuit } from '../../../src/sim/env.ts';
import { Rng } from '../../../src/util/rng.ts';

const data = await loadDataset({ source: '../shared/datasets/ml-100k/u.data', format: 'ml-100k' }, {}, { progress: false });
const cats = categoriesFromSide(data.itemSide, data.nItems);
const n = data.nItems;
const nG = (i: number): number => cats.offsets[i + 1] - cats.offsets[i];
const counts = new Float64Array(n);
for (const i of data.items) counts[i]++;
const byPop = Array.from({ length: n }, (_, i) => i).sort((a, b) => counts[b] - counts[a]);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const genres = (i: number): string => Array.from(cats.values.subarray(cats.offsets[i], cats.offsets[i + 1]), (g) => cats.names[g]).join('|');
console.log('genre labels per item: all', mean(byPop.map(nG)).toFixed(2), ' top-20 popular', mean(byPop.slice(0, 20).map(nG)).toFixed(2), ' top-100', mean(byPop.slice(0, 100).map(nG)).toFixed(2));
console.log('popularity order:', byPop.slice(0, 4).map((i) => `${i}:${genres(i)}`).join('  '));
// P(quit) of the 4th item given 3 distinct earlier items, drawn (a) uniformly, (b) from the top-100 popular
const rng = new Rng(0);
const pQuit = (pool: number[], trials: number): number => {
  let q = 0;
  for (let t = 0; t < trials; t++) {
    const pick = rng.shuffle(pool.slice()).slice(0, 4);
    if (wouldQuit(cats, pick.slice(0, 3), pick[3], 3, 1)) q++;
  }
  return q / trials;
};
console.log('P(4th item quits | 3 before it), uniform over all items:', pQuit(byPop, 20000).toFixed(3), ' over the top-100 popular:', pQuit(byPop.slice(0, 100), 20000).toFixed(3));
// the same for the 3rd item (window of 2, rule 'last')
const pQuit3 = (pool: number[], trials: number): number => {
  let q = 0;
  for (let t = 0; t < trials; t++) {
    const pick = rng.shuffle(pool.slice()).slice(0, 3);
    if (wouldQuit(cats, pick.slice(0, 2), pick[2], 3, 1)) q++;
  }
  return q / trials;
};
console.log('P(3rd item quits | 2 before it), uniform:', pQuit3(byPop, 20000).toFixed(3), ' top-100 popular:', pQuit3(byPop.slice(0, 100), 20000).toFixed(3));
