/**
 * Past one machine (issue 19, docs/scale.md): `npm run bench -- scale [case …] [flags]`.
 * Cases (all when none is named): sweep-kill, queue-empty, queue-1epoch (with sweep-speedup),
 * replicas-rps (bench/_scale-queue.ts), ann-1m (bench/_scale-ann.ts), ann-1m-http (the same index
 * served by `reclab serve`, bench/_scale-ann-http.ts; after ann-1m, which builds the index).
 */
import { annCase } from './_scale-ann.ts';
import { annHttpCase } from './_scale-ann-http.ts';
import { queueEmptyCase, queueEpochCase, replicasCase, stopBenchRedis, sweepKillCase } from './_scale-queue.ts';

const CASES: Record<string, () => Promise<void>> = {
  'sweep-kill': sweepKillCase,
  'queue-empty': queueEmptyCase,
  'queue-1epoch': queueEpochCase,
  'replicas-rps': replicasCase,
  'ann-1m': annCase,
  'ann-1m-http': annHttpCase,
};
const named = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
for (const name of named) if (!(name in CASES)) throw new Error(`bench scale: unknown case "${name}" (${Object.keys(CASES).join(', ')})`);
try {
  for (const name of named.length > 0 ? named : Object.keys(CASES)) await CASES[name]();
} finally {
  await stopBenchRedis();
}
process.exit(0); // BullMQ and pg pools may keep timers alive
