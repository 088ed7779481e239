/**
 * Users' histories kept in memory in every worker of a `--workers n` cluster (history-cache.ts),
 * kept exact across workers: a write in one worker is announced to every other worker through
 * the primary *before* it starts, and the writer waits until each has dropped the users and
 * stopped remembering reads; when the write ends, the others are told again. So once a write is
 * acknowledged to its client, no worker holds or remembers a history from before it — the same
 * rule as within one process, where a write drops its users when it starts and when it ends.
 *
 * Why not per-request store reads in cluster mode: the round trip to the store for a history
 * that has not changed was a third of an uncached recommendation's cost (see docs/serve.md).
 *
 * Messages (cluster-rpc.ts): worker → primary `history.sync` (once, before the worker serves:
 * the writes under way), `history.begin` (request: answered with a token once every other worker
 * has acknowledged) and `history.end` (note); primary → worker `history.begin` (request) and
 * `history.end` (note). The primary ends the writes of a worker that exits, and restarts a worker
 * that does not acknowledge a begin in time (the write is then refused with a 503, to be retried:
 * that worker might still answer from a stale copy until it is gone).
 */
import { Rpc, RpcFailure } from './cluster-rpc.ts';
import type { HistoryCache, HistoryPeers } from './history-cache.ts';
import { StoreUnavailableError } from './store.ts';

/** Milliseconds a worker has to acknowledge another's write before it is restarted (default). */
export const HISTORY_ACK_MS = 5_000;

/** A write under way: its users, its writer and the workers told of it. */
interface OpenWrite<M> {
  from: M;
  users: readonly string[];
  told: Set<M>;
}

/** The primary's side: relays announcements between workers and keeps the writes under way. */
export class HistoryHub<M extends { rpc: Rpc }> {
  private next = 1;
  private readonly open = new Map<number, OpenWrite<M>>();
  /** Workers that asked for the writes under way (from then on they are told of every write). */
  private readonly synced = new Set<M>();

  constructor(
    /** Called with a worker that did not acknowledge a write in time (the cluster restarts it). */
    private readonly unanswered: (member: M, why: string) => void,
    private readonly ackMs = HISTORY_ACK_MS,
  ) {}

  /** Writes under way (for tests). */
  get writing(): number {
    return this.open.size;
  }

  /** Answers `member`'s history messages. */
  serve(member: M): void {
    member.rpc.handle('history.sync', () => {
      this.synced.add(member);
      const now: { token: number; users: readonly string[] }[] = [];
      for (const [token, w] of this.open) {
        if (w.from === member) continue;
        w.told.add(member);
        now.push({ token, users: w.users });
      }
      return now;
    });
    member.rpc.handle<{ users: string[] }>('history.begin', ({ users }) => this.begin(member, users));
    member.rpc.handle<{ token: number }>('history.end', ({ token }) => this.end(token));
  }

  /** `member` exited: its writes are over, and it is told of nothing more. */
  leave(member: M): void {
    this.synced.delete(member);
    for (const [token, w] of this.open) {
      if (w.from === member) this.end(token);
      else w.told.delete(member);
    }
  }

  private async begin(from: M, users: string[]): Promise<number> {
    const token = this.next++;
    const told = new Set([...this.synced].filter((m) => m !== from));
    this.open.set(token, { from, users, told });
    const late: string[] = [];
    await Promise.all(
      [...told].map((m) =>
        m.rpc.request('history.begin', { token, users }, this.ackMs).catch((e: Error) => {
          // A worker that has gone (closed channel) holds nothing any more; a silent one might.
          if (e instanceof RpcFailure && e.kind === 'closed') return;
          late.push(e.message);
          this.unanswered(m, `it did not acknowledge another worker's write (${e.message})`);
        }),
      ),
    );
    if (late.length > 0) {
      this.end(token);
      throw new Error(`a worker did not acknowledge the write in time: ${late[0]}`);
    }
    return token;
  }

  private end(token: number): void {
    const w = this.open.get(token);
    if (!w) return;
    this.open.delete(token);
    for (const m of w.told) m.rpc.notify('history.end', { token });
  }
}

/** A worker's side: takes the others' announcements and makes its own cache's {@link HistoryPeers}. */
export class ClusterHistory {
  private cache?: HistoryCache;
  /** Other workers' writes under way, by token: their users. */
  private readonly open = new Map<number, readonly string[]>();

  constructor(
    private readonly rpc: Rpc,
    private readonly ackMs = 2 * HISTORY_ACK_MS,
  ) {
    rpc.handle<{ token: number; users: string[] }>('history.begin', ({ token, users }) => {
      if (!this.open.has(token)) {
        this.open.set(token, users);
        this.cache?.peerBegin(users);
      }
      return true;
    });
    rpc.handle<{ token: number }>('history.end', ({ token }) => {
      const users = this.open.get(token);
      if (users === undefined) return;
      this.open.delete(token);
      this.cache?.peerEnd(users);
    });
  }

  /** Learns the writes under way; call before this worker serves, and before {@link attach}. */
  async sync(): Promise<void> {
    const now = await this.rpc.request<{ token: number; users: string[] }[]>('history.sync', null, this.ackMs);
    for (const { token, users } of now) if (!this.open.has(token)) this.open.set(token, users);
  }

  /** Puts this worker's cache under the cluster's announcements (the writes under way count at once). */
  attach(cache: HistoryCache): void {
    this.cache = cache;
    for (const users of this.open.values()) cache.peerBegin(users);
  }

  /** The peers of this worker's cache: the other workers, through the primary. */
  readonly peers: HistoryPeers = {
    begin: async (users) => {
      try {
        return await this.rpc.request<number>('history.begin', { users }, this.ackMs);
      } catch (e) {
        // Nothing was written: the client may retry (another worker, or this one once the primary answers).
        throw new StoreUnavailableError(`the other workers could not be told of this write: ${(e as Error).message}`);
      }
    },
    end: (token) => this.rpc.notify('history.end', { token }),
  };
}
