/**
 * `ann-1m` of `npm run bench -- scale`: the ANN path (src/serve/ann.ts) on a generated catalogue
 * (src/serve/ann-synthetic.ts) of --items items (default 1,000,000) of --dims floats (64).
 * The JSON line starts with the keys the issue names (recall@10, build_s, peak_rss_mb, rps,
 * p99_ms), then the rest:
 *
 * - build_s: building the HNSW graph (usearch's threads, all cores). The built index is saved
 *   under $RECLAB_BENCH_DIR (default <tmp>/reclab-bench-scale) with the build's figures beside it
 *   (`<index>.json`: build_s, CPU seconds, RSS, load average, when); a re-run with the same
 *   settings loads it (`index_reused: true`) and prints the build time measured when it was built
 *   (delete both files to time the build again);
 * - recall@10: the ANN answers against exact scoring of every item (exactTopK), both with the
 *   user's history excluded, over --recall-users users; `recall@10_category` the same with a
 *   category filter (each user's most frequent category among their history);
 * - rps, p50_ms, p99_ms, cpu_us_per_query: --queries recommend calls (user vector → top 10,
 *   history excluded), one after another on one thread (closed loop: what one process's event
 *   loop sustains); cpu_us_per_query is process CPU time per query (load-robust), and
 *   rps_one_core_cpu_bound = 1e6 / it, the rate of one idle core;
 * - batched_*: the same queries in batches of --batch (16) through searchMany (usearch's native
 *   threads on every core), each request's latency being its batch's;
 * - peak_rss_mb: the process's peak resident memory (vectors, graph, everything).
 *
 * In process, not through HTTP: the service's own cost per request is `npm run bench -- serve`'s.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, flag } from './_util.ts';
import { AnnIndex, exactTopK, recallAt, type AnnSettings } from '../src/serve/ann.ts';
import { syntheticCatalogue } from '../src/serve/ann-synthetic.ts';
import { progress } from '../src/util/progress.ts';

/** Runs the case and prints its JSON line. */
export async function annCase(): Promise<void> {
  const n = Number(flag('items', '1000000'));
  const d = Number(flag('dims', '64'));
  const recallUsers = Number(flag('recall-users', '200'));
  const queries = Number(flag('queries', '20000'));
  const settings: Partial<AnnSettings> = {
    connectivity: Number(flag('M', '16')),
    expansionAdd: Number(flag('ef-construction', '64')),
    expansionSearch: Number(flag('ef-search', '256')),
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
  // The build's own figures live beside the index, so a re-run that skips the build still prints them.
  const metaFile = `${file}.json`;
  let buildMeta: Record<string, unknown> = {};
  if (reused) {
    index = AnnIndex.load(file, cat.items, n, d, settings);
    if (existsSync(metaFile)) buildMeta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
    buildS = typeof buildMeta.build_s === 'number' ? buildMeta.build_s : null;
    log(`index loaded from ${file} (built in ${buildS ?? '?'} s when it was made; delete it to time the build again)`);
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
    buildMeta = { build_s: Number(buildS.toFixed(1)), build_cpu_s: Number((process.cpuUsage().user / 1e6).toFixed(1)), build_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), build_load1: Number(loadavg()[0].toFixed(1)), built_at: new Date().toISOString() };
    writeFileSync(metaFile, `${JSON.stringify(buildMeta)}\n`);
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
  const pct = (lat: Float64Array, p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(3));

  // One request after another on one thread: what one process's event loop sustains. CPU time
  // per query (process.cpuUsage) is the load-robust figure; rps and latencies depend on the load.
  const lat = new Float64Array(queries);
  let cpu0 = process.cpuUsage();
  let start = performance.now();
  for (let r = 0; r < queries; r++) {
    const u = r % nUsers;
    const q0 = performance.now();
    index.search(userVec(u), 10, { exclude: excluders[u] });
    lat[r] = performance.now() - q0;
  }
  const seconds = (performance.now() - start) / 1000;
  let cpu = process.cpuUsage(cpu0);
  const cpuUsPerQuery = (cpu.user + cpu.system) / queries;
  lat.sort();

  // Requests taken in batches of --batch (as a server gathers those that arrived while the
  // previous batch ran), each batch searched on every core through usearch's own threads; a
  // request's latency is its whole batch's.
  const batch = Number(flag('batch', '16'));
  const rounds = Math.ceil(queries / batch);
  const qs = new Float32Array(batch * d);
  const blat = new Float64Array(rounds * batch);
  cpu0 = process.cpuUsage();
  start = performance.now();
  for (let b = 0; b < rounds; b++) {
    const opts = [];
    for (let r = 0; r < batch; r++) {
      const u = (b * batch + r) % nUsers;
      qs.set(userVec(u), r * d);
      opts.push({ exclude: excluders[u] });
    }
    const q0 = performance.now();
    index.searchMany(qs, batch, 10, opts, 0);
    blat.fill(performance.now() - q0, b * batch, (b + 1) * batch);
  }
  const bSeconds = (performance.now() - start) / 1000;
  cpu = process.cpuUsage(cpu0);
  blat.sort();

  emit('scale', 'ann-1m', {
    'recall@10': Number((recall / recallUsers).toFixed(4)),
    build_s: buildS === null ? null : Number(buildS.toFixed(1)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    rps: Math.round(queries / seconds),
    p99_ms: pct(lat, 0.99),
    p50_ms: pct(lat, 0.5),
    cpu_us_per_query: Math.round(cpuUsPerQuery),
    rps_one_core_cpu_bound: Math.round(1e6 / cpuUsPerQuery),
    'recall@10_category': Number((recallCat / recallUsers).toFixed(4)),
    batched_rps: Math.round((rounds * batch) / bSeconds),
    batched_p99_ms: pct(blat, 0.99),
    batched_cpu_us_per_query: Math.round((cpu.user + cpu.system) / (rounds * batch)),
    batch,
    items: n,
    dims: d,
    index_reused: reused,
    ...buildMeta,
    queries,
    recall_users: recallUsers,
    ...settings,
    load1: Number(loadavg()[0].toFixed(1)),
    path: 'in process (not HTTP): AnnIndex.search per request (user vector given, history excluded, exact f32 re-scoring), one thread, closed loop; batched_*: searchMany on all cores',
  });
}
