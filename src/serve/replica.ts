/**
 * Replicated serving: several `reclab serve` processes (one machine or many) behind any load
 * balancer, sharing one PostgreSQL store, told of model swaps over a Redis channel.
 *
 * What is shared where:
 *   - feedback: written once, to the shared store; every replica reads a user's events from the
 *     store on each request (engine.ts), and its answer cache is keyed by that history's stamp,
 *     so feedback posted to one replica changes the next answer of every replica — no cache
 *     message is needed;
 *   - model swaps (`PUT /api/model`, a retrain): the replica that is asked publishes the swap on
 *     the channel and swaps itself; every other replica swaps when the message arrives and answers
 *     with an acknowledgement; the asking replica's call returns once every live replica has
 *     acknowledged (or the wait times out, naming those that did not);
 *   - the last swap is also kept in a Redis key, so a replica that was away (started later, or
 *     lost Redis for a while: pub/sub does not queue messages) catches up when it (re)connects;
 *   - liveness: each replica writes a heartbeat into a Redis hash; the swap waits for replicas seen
 *     in the last few heartbeats.
 *
 * Each replica's readiness (`/health/ready`) reports the model version it serves.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { ServedModel } from './bundle.ts';
import { redisOptions } from './redis.ts';

/** Swaps this process's own slot (the service's swapModel). */
export type LocalSwap = (name?: string) => Promise<ServedModel>;

/** Options of {@link ReplicaBus.connect}. */
export interface ReplicaBusOptions {
  /** Channel name (and prefix of the bus's keys); replicas of one service share it. */
  channel?: string;
  /** Heartbeat period (default 1 s); a replica silent for 3 periods is not waited for. */
  heartbeatMs?: number;
  /** Longest wait for other replicas' acknowledgements of a swap (default 120 s). */
  ackTimeoutMs?: number;
  log?: (line: string) => void;
}

type Message = { type: 'swap'; swap: string; name: string | null; origin: string } | { type: 'ack'; swap: string; replica: string; ok: boolean; detail: string };

/** One replica's end of the channel. */
export class ReplicaBus {
  /** This replica's name on the bus. */
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private local?: LocalSwap;
  /** The last swap this replica applied (by swap id), so catching up does not repeat it. */
  private applied = '';
  private readonly waits = new Map<string, { pending: Set<string>; failures: string[]; done: () => void }>();
  private heartbeat?: NodeJS.Timeout;
  private readonly log: (line: string) => void;

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly channel: string,
    private readonly opts: Required<Omit<ReplicaBusOptions, 'log' | 'channel'>>,
    log: (line: string) => void,
  ) {
    this.log = log;
  }

  /** Connects to Redis at `url` and subscribes; call {@link attach} once the service is built. */
  static async connect(url: string, options: ReplicaBusOptions = {}): Promise<ReplicaBus> {
    const pub = new Redis(redisOptions(url));
    const sub = new Redis(redisOptions(url));
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const bus = new ReplicaBus(pub, sub, options.channel ?? 'reclab:serve', { heartbeatMs: options.heartbeatMs ?? 1000, ackTimeoutMs: options.ackTimeoutMs ?? 120_000 }, log);
    for (const c of [pub, sub]) c.on('error', (e: Error) => log(`replica ${bus.id}: redis: ${e.message} (reconnecting)`));
    sub.on('message', (_channel: string, text: string) => bus.onMessage(text));
    await sub.subscribe(bus.channel);
    return bus;
  }

  private get currentKey(): string {
    return `${this.channel}:current`;
  }
  private get replicasKey(): string {
    return `${this.channel}:replicas`;
  }

  /**
   * Starts answering swaps with `local` (this process's swap), heartbeating, and catching up
   * with the last swap now and after every reconnect.
   */
  async attach(local: LocalSwap): Promise<void> {
    this.local = local;
    const beat = () => void this.pub.hset(this.replicasKey, this.id, String(Date.now())).catch(() => {});
    beat();
    this.heartbeat = setInterval(beat, this.opts.heartbeatMs);
    this.heartbeat.unref();
    // ioredis re-subscribes by itself after a reconnect; messages published meanwhile are lost.
    this.sub.on('ready', () => void this.catchUp());
    await this.catchUp();
  }

  /** Applies the last swap published, if this replica has not. */
  private async catchUp(): Promise<void> {
    const raw = await this.pub.get(this.currentKey).catch(() => null);
    if (!raw || !this.local) return;
    const last = JSON.parse(raw) as { swap: string; name: string | null };
    if (last.swap === this.applied) return;
    this.applied = last.swap;
    try {
      const served = await this.local(last.name ?? undefined);
      this.log(`replica ${this.id}: caught up with swap ${last.swap}: serving ${served.version}`);
    } catch (e) {
      this.log(`replica ${this.id}: catching up with swap ${last.swap} failed, previous model keeps serving: ${(e as Error).message}`);
    }
  }

  private onMessage(text: string): void {
    let m: Message;
    try {
      m = JSON.parse(text) as Message;
    } catch {
      return; // not ours
    }
    if (m.type === 'ack') {
      const w = this.waits.get(m.swap);
      if (!w) return;
      if (!m.ok) w.failures.push(`${m.replica}: ${m.detail}`);
      w.pending.delete(m.replica);
      if (w.pending.size === 0) w.done();
      return;
    }
    if (m.type !== 'swap' || m.origin === this.id || !this.local) return;
    this.applied = m.swap;
    const ack = (ok: boolean, detail: string) => void this.pub.publish(this.channel, JSON.stringify({ type: 'ack', swap: m.swap, replica: this.id, ok, detail } satisfies Message)).catch(() => {});
    this.local(m.name ?? undefined).then(
      (served) => {
        this.log(`replica ${this.id}: swap ${m.swap} from ${m.origin}: serving ${served.version}`);
        ack(true, served.version);
      },
      (e: Error) => {
        this.log(`replica ${this.id}: swap ${m.swap} failed, previous model keeps serving: ${e.message}`);
        ack(false, e.message);
      },
    );
  }

  /** Replicas seen within three heartbeats, other than this one. */
  private async liveOthers(): Promise<string[]> {
    const all = await this.pub.hgetall(this.replicasKey);
    const since = Date.now() - 3 * this.opts.heartbeatMs;
    return Object.entries(all)
      .filter(([id, t]) => id !== this.id && Number(t) >= since)
      .map(([id]) => id);
  }

  /**
   * The service's `modelSwapper`: swaps here, tells every replica, and resolves once every live
   * replica has acknowledged. Throws when this replica's own swap fails (nothing is published
   * then) or when another replica failed or did not answer in time (they keep their model).
   */
  readonly swapper = async (name: string | undefined, local: LocalSwap): Promise<void> => {
    const served = await local(name);
    const swap = randomUUID();
    this.applied = swap;
    const others = await this.liveOthers();
    let finish = () => {};
    const finished = new Promise<void>((r) => (finish = r));
    const wait = { pending: new Set(others), failures: [] as string[], done: finish };
    this.waits.set(swap, wait);
    try {
      await this.pub.set(this.currentKey, JSON.stringify({ swap, name: name ?? null }));
      await this.pub.publish(this.channel, JSON.stringify({ type: 'swap', swap, name: name ?? null, origin: this.id } satisfies Message));
      if (others.length > 0) {
        const timer = setTimeout(finish, this.opts.ackTimeoutMs);
        await finished;
        clearTimeout(timer);
      }
    } finally {
      this.waits.delete(swap);
    }
    const missing = [...wait.pending];
    this.log(`replica ${this.id}: swap ${swap} to ${served.version}: ${others.length - missing.length - wait.failures.length}/${others.length} other replicas acknowledged`);
    if (wait.failures.length > 0 || missing.length > 0) {
      throw new Error(`swapped here (${served.version}) but not everywhere: ${[...wait.failures, ...missing.map((r) => `${r}: no answer within ${this.opts.ackTimeoutMs} ms`)].join('; ')}`);
    }
  };

  /** Leaves the bus (heartbeat removed, connections closed). */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.pub.hdel(this.replicasKey, this.id).catch(() => {});
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
