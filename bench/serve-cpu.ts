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

/** A retrain child (src/serve/retrain-child.ts), counted apart from the serving processes. */
function isRetrain(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('retrain-child');
  } catch {
    return false;
  }
}

/** One process of the tree: CPU seconds so far, and whether it is (under) a retrain child. */
interface ProcCpu {
  seconds: number;
  retrain: boolean;
}

/**
 * CPU seconds (user + system, all threads) of `pid` and each of its descendants, marked when they
 * are a retrain child or under one; null without /proc.
 */
export function treeCpuSeconds(pid: number): Map<number, ProcCpu> | null {
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
    const out = new Map<number, ProcCpu>();
    for (const [p] of ticks) {
      let inRetrain = false;
      for (let q: number | undefined = p; q !== undefined && q > 1; q = parent.get(q)) {
        inRetrain ||= isRetrain(q);
        if (q === pid) {
          out.set(p, { seconds: ticks.get(p)! / HZ, retrain: inRetrain });
          break;
        }
      }
    }
    return out;
  } catch {
    return null;
  }
}

/**
 * A meter started before a run: `stop()` gives the cores used over the run by the client, the
 * serving processes and a retrain child (if one ran), and the load average.
 */
export function cpuMeter(serverPid: number): { stop(): { client_cores: number; server_cores: number | null; retrain_cores: number | null; loadavg_1m: number } } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const s0 = treeCpuSeconds(serverPid);
  return {
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const s1 = treeCpuSeconds(serverPid);
      const round = (x: number) => Math.round(x * 100) / 100;
      // Per process, from its first sight: a process that ended during the run (a retrain child)
      // drops out of the tree and its last stretch is not counted — an undercount, never negative.
      let serving = 0;
      let retrain = 0;
      for (const [p, now] of s1 ?? []) {
        const spent = now.seconds - (s0?.get(p)?.seconds ?? 0);
        if (now.retrain) retrain += spent;
        else serving += spent;
      }
      return {
        client_cores: round((c.user + c.system) / 1e6 / wall),
        server_cores: s0 === null || s1 === null ? null : round(serving / wall),
        retrain_cores: s0 === null || s1 === null ? null : round(retrain / wall),
        loadavg_1m: round(loadavg()[0]),
      };
    },
  };
}
