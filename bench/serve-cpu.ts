/**
 * Where the CPU went during a load run on a shared machine: the load generator (autocannon runs
 * in the bench process), the server (its process and every descendant: cluster workers, the
 * SQLite thread, a retrain child) and the machine's load average — so a figure measured on busy
 * cores can be read for what it is. Linux /proc only; elsewhere the figures are null.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on Linux). */
const HZ = 100;

/** CPU seconds (user + system) of `pid` and all its descendants, or null without /proc. */
export function treeCpuSeconds(pid: number): number | null {
  try {
    const parent = new Map<number, number>();
    const ticks = new Map<number, number>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      // Fields after the command name "(…)", which may itself hold spaces.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(f[1]));
      ticks.set(Number(name), Number(f[11]) + Number(f[12]));
    }
    let total = 0;
    for (const [p] of ticks) {
      for (let q: number | undefined = p; q !== undefined && q > 1; q = parent.get(q)) {
        if (q === pid) {
          total += ticks.get(p)!;
          break;
        }
      }
    }
    return total / HZ;
  } catch {
    return null;
  }
}

/** A meter started before a run: `stop()` gives cores used by client and server over the run, and the load average. */
export function cpuMeter(serverPid: number): { stop(): { client_cores: number; server_cores: number | null; loadavg_1m: number } } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const s0 = treeCpuSeconds(serverPid);
  return {
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const s1 = treeCpuSeconds(serverPid);
      const round = (x: number) => Math.round(x * 100) / 100;
      return {
        client_cores: round((c.user + c.system) / 1e6 / wall),
        server_cores: s0 === null || s1 === null ? null : round((s1 - s0) / wall),
        loadavg_1m: round(loadavg()[0]),
      };
    },
  };
}
