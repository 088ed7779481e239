/**
 * The production loop: the service retrains its model from the feedback it collected, on a
 * schedule (`reclab serve --retrain-every 1h`) and on demand (`POST /api/model/retrain`), and
 * swaps the result in only when a gate on recent feedback says it is not worse
 * (retrain-job.ts). The previous model is kept for `POST /api/model/rollback`.
 *
 * Each retrain runs in a child process at lower CPU priority, so serving never waits on it; one
 * runs at a time. Every outcome — accepted, refused, skipped, control, failed — is logged as one
 * line with the gate's figures and appended to `<models>/retrains.jsonl`, so the record survives
 * restarts. An accepted bundle is swapped in everywhere (cluster-wide) and named in
 * `<models>/CURRENT`, so a restart serves it too.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isBundleDir } from './bundle.ts';
import type { RetrainJob, RetrainOutcome } from './retrain-job.ts';

/** Settings of the loop. */
export interface RetrainOptions {
  /** Store URL the child reads feedback from (an in-memory SQLite store cannot be shared). */
  db: string;
  /** Seconds between scheduled retrains; 0 = on demand only. */
  every: number;
  /** Gate settings (see {@link RetrainJob}). */
  holdout: number;
  tolerance: number;
  minNew: number;
  /** Feedback kinds, as the engine counts them. */
  positiveTypes?: string[];
  negativeTypes: string[];
  readTypes: string[];
}

/** Defaults of the gate. */
export const RETRAIN_DEFAULTS = { holdout: 0.1, tolerance: 0, minNew: 1, k: 10, maxUsers: 2000 };

/** One retrain as recorded. */
export interface RetrainRecord extends Partial<Omit<RetrainOutcome, 'outcome'>> {
  id: number;
  trigger: 'schedule' | 'admin';
  started: string;
  /** Bundle serving when it started. */
  serving: string;
  outcome: RetrainOutcome['outcome'] | 'failed';
  reason: string;
  /** True when the accepted bundle now serves. */
  swapped?: boolean;
}

/**
 * Where the loop's models live and which one serves: a process's own ModelSlot
 * ({@link slotModels}), or the cluster primary's pinned name (cluster-retrain.ts).
 */
export interface ServingModels {
  /** The directory of bundles new ones are written into. */
  readonly root: string;
  /** Bundle name serving now; undefined when none does. */
  serving(): string | undefined;
}

/** The {@link ServingModels} of a process that serves through `slot`. */
export function slotModels(slot: { root: string; current?: { version: string } }): ServingModels {
  return {
    root: slot.root,
    serving: () => {
      const version = slot.current?.version;
      return version === undefined ? undefined : version.slice(0, version.lastIndexOf('@'));
    },
  };
}

/** What the admin routes drive: the loop in this process, or the cluster primary's through IPC. */
export interface RetrainControl {
  /** Starts a retrain (or joins the one running); resolves with its record once done. */
  run(trigger: RetrainRecord['trigger'], control?: 'shuffled'): Promise<RetrainRecord>;
  /** Whether a retrain runs now, and the latest records (newest last). */
  status(): Promise<{ running: boolean; records: RetrainRecord[] }>;
  /** Swaps back to the bundle served before the last swap made by the loop. */
  rollback(): Promise<{ from: string; to: string }>;
}

/** Runs retrains one at a time and keeps their record. */
export class Retrainer implements RetrainControl {
  private running?: Promise<RetrainRecord>;
  private timer?: NodeJS.Timeout;
  private records: RetrainRecord[] = [];
  /** The child of the retrain running now, and whether the service is stopping. */
  private child?: ChildProcess;
  private stopping = false;
  private nextId = 1;
  /** Bundle served before the last swap made here (retrain or rollback): the rollback target. */
  previous?: string;

  constructor(
    private readonly slot: ServingModels,
    private readonly options: RetrainOptions,
    /** Swaps every replica to the named bundle (the service's swapEverywhere). */
    private readonly swap: (name: string) => Promise<void>,
    private readonly log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {}

  /** Path of the record file. */
  get recordFile(): string {
    return join(this.slot.root, 'retrains.jsonl');
  }

  /** Loads earlier records and starts the schedule. */
  async start(): Promise<void> {
    if (existsSync(this.recordFile)) {
      const lines = (await readFile(this.recordFile, 'utf8')).split('\n').filter(Boolean);
      for (const line of lines.slice(-100)) {
        try {
          this.records.push(JSON.parse(line) as RetrainRecord);
        } catch {
          // A torn last line (killed mid-append) is skipped, not fatal.
        }
      }
      this.nextId = Math.max(0, ...this.records.map((r) => r.id)) + 1;
    }
    if (this.options.every > 0) {
      this.timer = setInterval(() => {
        if (!this.running) void this.run('schedule').catch(() => {});
      }, this.options.every * 1000);
      this.timer.unref();
    }
  }

  /**
   * Stops the schedule and ends a retrain in progress (its child is terminated; nothing is
   * swapped in): a draining service should not wait minutes for a fit it will not serve.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.child?.kill('SIGTERM');
    await this.running?.catch(() => {});
  }

  /** The latest records, newest last. */
  history(): RetrainRecord[] {
    return this.records.slice(-100);
  }

  /** True while a retrain runs. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  async status(): Promise<{ running: boolean; records: RetrainRecord[] }> {
    return { running: this.busy, records: this.history() };
  }

  /**
   * Starts a retrain (or joins the one running) and resolves with its record once done. Rejects
   * when the models directory cannot hold a new bundle or no model serves yet (a rejection, never
   * a synchronous throw: the schedule's timer must not crash the process while a slow first
   * model load is still under way).
   */
  run(trigger: RetrainRecord['trigger'], control?: 'shuffled'): Promise<RetrainRecord> {
    if (this.running) return this.running;
    let serving: string;
    try {
      serving = this.servingName();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.running = this.retrain(trigger, serving, control).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Swaps back to the bundle served before the last swap made here; resolves with its name. */
  async rollback(): Promise<{ from: string; to: string }> {
    const to = this.previous;
    if (!to) throw Object.assign(new Error('nothing to roll back to: no model was swapped in by a retrain or rollback since start'), { statusCode: 409 });
    if (this.running) throw Object.assign(new Error('a retrain is running; roll back after it ends'), { statusCode: 409 });
    const from = this.servingName();
    await this.swap(to);
    await this.writeCurrent(to);
    this.previous = from;
    this.log(`reclab serve: rollback ${from} → ${to}`);
    await this.record({ id: this.nextId++, trigger: 'admin', started: new Date().toISOString(), serving: from, outcome: 'accepted', reason: `rollback to ${to}`, bundle: to, swapped: true });
    return { from, to };
  }

  /** Name of the bundle serving now (the retrain loop needs a directory of bundles). */
  private servingName(): string {
    if (isBundleDir(this.slot.root)) {
      throw Object.assign(new Error(`--models ${this.slot.root} is a single bundle: retraining needs a directory of bundles to write new ones into`), { statusCode: 409 });
    }
    const current = this.slot.serving();
    if (current === undefined) throw new Error('no model is serving');
    return current;
  }

  private async retrain(trigger: RetrainRecord['trigger'], serving: string, control?: 'shuffled'): Promise<RetrainRecord> {
    const started = new Date();
    const id = this.nextId++;
    const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const base = serving.replace(/-r\d{8}T\d{6}(-\d+)?$/, '');
    const out = `${base}-r${stamp}${existsSync(join(this.slot.root, `${base}-r${stamp}`)) ? `-${id}` : ''}`;
    const job: RetrainJob = {
      root: this.slot.root,
      serving,
      db: this.options.db,
      out,
      positiveTypes: this.options.positiveTypes,
      negativeTypes: this.options.negativeTypes,
      readTypes: this.options.readTypes,
      holdout: this.options.holdout,
      tolerance: this.options.tolerance,
      minNew: this.options.minNew,
      k: RETRAIN_DEFAULTS.k,
      maxUsers: RETRAIN_DEFAULTS.maxUsers,
      seed: id,
      control,
    };
    const head = { id, trigger, started: started.toISOString(), serving };
    let record: RetrainRecord;
    try {
      const outcome = await runInChild(job, (child) => (this.child = child));
      this.child = undefined;
      if (this.stopping) throw new Error('the service is stopping: not swapped');
      record = { ...head, ...outcome };
      if (outcome.outcome === 'accepted' && outcome.bundle) {
        // Swapped only if the serving model is still the one the candidate was judged against.
        if (this.servingName() === serving) {
          await this.swap(outcome.bundle);
          await this.writeCurrent(outcome.bundle);
          this.previous = serving;
          record.swapped = true;
        } else {
          record.swapped = false;
          record.reason += `; not swapped: the serving model changed to ${this.servingName()} meanwhile`;
        }
      }
    } catch (e) {
      record = { ...head, outcome: 'failed', reason: (e as Error).message };
    }
    this.child = undefined;
    const f = record.figures;
    const figures = f ? ` [${f.metric} candidate ${f.candidate.toFixed(4)} serving ${f.serving.toFixed(4)}, recall@10 candidate ${f.candidateRecall.toFixed(4)} serving ${f.servingRecall.toFixed(4)}, ${f.users} users, ${f.holdoutEvents} held-out, ${f.trainEvents} train events]` : '';
    this.log(`reclab serve: retrain #${id} (${trigger}) of ${serving}: ${record.outcome}${record.swapped ? `, now serving ${record.bundle}` : ''} — ${record.reason}${figures} in ${(record.seconds ?? (Date.now() - started.getTime()) / 1000).toFixed(1)} s`);
    await this.record(record);
    return record;
  }

  private async record(r: RetrainRecord): Promise<void> {
    this.records.push(r);
    if (this.records.length > 1000) this.records.splice(0, this.records.length - 100);
    await appendFile(this.recordFile, `${JSON.stringify(r)}\n`).catch((e: Error) => this.log(`reclab serve: cannot append to ${this.recordFile}: ${e.message}`));
  }

  /** Names the served bundle in CURRENT (atomically), so a restart serves it. */
  private async writeCurrent(name: string): Promise<void> {
    const tmp = join(this.slot.root, `CURRENT.tmp-${process.pid}`);
    await writeFile(tmp, `${name}\n`);
    await rename(tmp, join(this.slot.root, 'CURRENT'));
  }
}

/** The child's entry: TypeScript sources run through tsx (a clone), the compiled file otherwise. */
function childEntry(): { file: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = new URL(`./retrain-child.${ts ? 'ts' : 'js'}`, import.meta.url).pathname;
  return { file, execArgv: ts ? ['--import', 'tsx'] : [] };
}

/** nice(1), when the system has it. */
const NICE = '/usr/bin/nice';

/** Runs one job in a child process at lower priority; rejects with the child's error. */
function runInChild(job: RetrainJob, spawned: (child: ChildProcess) => void): Promise<RetrainOutcome> {
  const { file, execArgv } = childEntry();
  return new Promise((resolve, reject) => {
    // Serving first: the child yields the CPU to it (niceness 10). Started through nice(1) where
    // there is one, so every thread of the child is niced — setPriority on its pid after the start
    // reaches only the main thread (Linux nices per thread) and the threads made after it, not
    // V8's GC helpers, which already run.
    const viaNice = existsSync(NICE);
    const child = viaNice
      ? fork(file, [], { execPath: NICE, execArgv: ['-n', '10', process.execPath, ...execArgv], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
      : fork(file, [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    spawned(child);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    try {
      if (!viaNice && child.pid) setPriority(child.pid, 10);
    } catch {
      // Not permitted on this system: it runs at normal priority.
    }
    let answered = false;
    child.once('message', (m: { ok: true; outcome: RetrainOutcome } | { ok: false; error: string }) => {
      answered = true;
      if (m.ok) resolve(m.outcome);
      else reject(new Error(`retrain failed: ${m.error.split('\n')[0]}`));
    });
    child.once('exit', (code, signal) => {
      if (!answered) reject(new Error(`retrain process exited (${signal ?? code}) without an answer${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
    });
    child.send(job);
  });
}
