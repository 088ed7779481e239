/**
 * `ann-1m` of `npm run bench -- scale`: the ANN path (src/serve/ann.ts) on a generated catalogue
 * (src/serve/ann-synthetic.ts) of --items items (default 1,000,000) of --dims floats (64).
 *
 * - build_s: building the HNSW graph (all cores); the built index is saved under
 *   $RECLAB_BENCH_DIR (default <tmp>/reclab-bench-scale) and reused by a re-run with the same
 *   settings (`index_reused` says so; delete the file to time the build again);
 * - recall@10: the ANN answers against exact scoring of every item (exactTopK), both with the
 *   user's history excluded, over --recall-users users; `recall@10_category` the same with a
 *   category filter (each user's most frequent category among their history);
 * - rps, p50_ms, p99_ms: --queries recommend calls (user vector → top 10, history excluded),
 *   one after another on one thread (closed loop: rps is what one process sustains);
 * - peak_rss_mb: the process's peak resident memory (vectors, graph, everything).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit } from './_util.ts';
import { AnnIndex, exactTopK, recallAt, type AnnSettings } from '../src/serve/ann.ts';
import { syntheticCatalogue } from '../src/serve/ann-synthetic.ts';
import { progress } from '../src/util/progress.ts';

/** Value of `--name` or the fallback. */
function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Runs the case and prints its JSON line. */
export async function annCase(): Promise<void> {
  const n = Number(flag('items', '1000000'));
  const d = Number(flag('dims', '64'));
  const recallUsers = Number(flag('recall-users', '200'));
  const queries = Number(flag('queries', '20000'));
  const settings: Partial<AnnSettings> = {
    connectivity: Number(flag('M', '16')),
    expansionAdd: Number(flag('ef-construction', '64')),
    expansionSearch: Number(flag('ef-search', '128')),
    quantization: flag('quantization', 'f16') as AnnSettings['quantization'],
    oversample: Number(flag('oversample', '8')),
  };
  const log = (s: string) => process.stderr.write(`scale ann: ${s}\n`);
  let t = performance.now();
  const cat = syntheticCatalogue({ n, d, users: Math.max(recallUsers, 2000) });
  log(`catalogue ${n} × ${d} generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const dir = process.env.RECLAB_BENCH_DIR ?? join(tmpdir(), 'reclab-bench-scale');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `ann-${n}x${d}-M${settings.connectivity}-ef${settings.expansionAdd}-${settings.quantization}.usearch`);
  let index: AnnIndex;
  let buildS: number | null = null;
  const reused = existsSync(file);
  if (reused) {
    index = AnnIndex.load(file, cat.items, n, d, settings);
    log(`index loaded from ${file} (build not timed; delete it to time the build)`);
  } else {
    const bar = progress('ann build', n, { unit: 'items' });
    t = performance.now();
    let last = 0;
    index = AnnIndex.build(cat.items, n, d, settings, (done) => {
      bar.tick(done - last);
      last = done;
      if (done % 100_000 === 0 || done === n) log(`built ${done}/${n} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
    });
    buildS = (performance.now() - t) / 1000;
    bar.stop();
    index.save(file);
    log(`built in ${buildS.toFixed(1)} s, saved ${file} (${(statSync(file).size / 2 ** 20).toFixed(0)} MB)`);
  }

  const userVec = (u: number) => cat.users.subarray(u * d, (u + 1) * d);
  const excluder = (u: number) => {
    const h = new Set(cat.history[u]);
    return (i: number) => h.has(i);
  };
  const topCategory = (u: number) => {
    const counts = new Map<number, number>();
    for (const i of cat.history[u]) counts.set(cat.category[i], (counts.get(cat.category[i]) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
  };
  t = performance.now();
  let recall = 0;
  let recallCat = 0;
  for (let u = 0; u < recallUsers; u++) {
    const exclude = excluder(u);
    const q = userVec(u);
    recall += recallAt(index.search(q, 10, { exclude }).items, exactTopK(cat.items, n, d, q, 10, { exclude }).items);
    const c = topCategory(u);
    const allow = (i: number) => cat.category[i] === c;
    recallCat += recallAt(index.search(q, 10, { exclude, allow }).items, exactTopK(cat.items, n, d, q, 10, { exclude, allow }).items);
  }
  log(`recall over ${recallUsers} users in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const nUsers = cat.history.length;
  const excluders = Array.from({ length: nUsers }, (_, u) => excluder(u));
  for (let w = 0; w < 500; w++) index.search(userVec(w % nUsers), 10, { exclude: excluders[w % nUsers] });
  const lat = new Float64Array(queries);
  const start = performance.now();
  for (let r = 0; r < queries; r++) {
    const u = r % nUsers;
    const q0 = performance.now();
    index.search(userVec(u), 10, { exclude: excluders[u] });
    lat[r] = performance.now() - q0;
  }
  const seconds = (performance.now() - start) / 1000;
  lat.sort();
  emit('scale', 'ann-1m', {
    items: n,
    dims: d,
    'recall@10': Number((recall / recallUsers).toFixed(4)),
    'recall@10_category': Number((recallCat / recallUsers).toFixed(4)),
    build_s: buildS === null ? null : Number(buildS.toFixed(1)),
    index_reused: reused,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    rps: Math.round(queries / seconds),
    p50_ms: Number(lat[Math.floor(queries * 0.5)].toFixed(3)),
    p99_ms: Number(lat[Math.floor(queries * 0.99)].toFixed(3)),
    queries,
    recall_users: recallUsers,
    ...settings,
    path: 'in-process AnnIndex.search (history excluded, exact f32 re-scoring), one thread, closed loop',
  });
}
