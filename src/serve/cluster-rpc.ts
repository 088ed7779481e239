/**
 * Requests and answers between the cluster primary and its workers, over node:cluster's IPC
 * channel (`worker.send` / `process.send`). Node only delivers objects; this adds request ids,
 * answers that carry an error, timeouts, and the rule that every pending request fails at once
 * when the other side goes away — so a caller never waits on a process that no longer exists.
 *
 * The transport is a function, so tests drive two endpoints in memory without forking.
 */

/** A message of this protocol; the `reclab` tag keeps it apart from anything else on the channel. */
export type RpcMessage =
  | { reclab: 'req'; id: number; method: string; payload: unknown }
  | { reclab: 'res'; id: number; ok: true; value: unknown }
  | { reclab: 'res'; id: number; ok: false; error: string }
  | { reclab: 'note'; method: string; payload: unknown };

/** Sends one message; calls `done` with an error if it could not be delivered. */
export type RpcSend = (message: RpcMessage, done: (error: Error | null) => void) => void;

/**
 * Why a request failed on the way rather than in the handler: `timeout` (the other side may still
 * act on it — its state is unknown) or `closed` (the other side is gone or never got it).
 */
export class RpcFailure extends Error {
  constructor(
    readonly kind: 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'RpcFailure';
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/** One end of the channel: makes requests, answers the other end's, and takes notifications. */
export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, (payload: never) => unknown>();
  private closed?: string;

  constructor(private readonly send: RpcSend) {}

  /** Answers requests (and notifications) for `method` with `handler`; a throw becomes the error answer. */
  handle<P>(method: string, handler: (payload: P) => unknown): void {
    this.handlers.set(method, handler as (payload: never) => unknown);
  }

  /**
   * Asks the other end and resolves with its answer. Rejects with the handler's error message, or
   * with {@link RpcFailure} after `timeoutMs` (0 = no timeout) or when the channel closes.
   */
  request<T>(method: string, payload: unknown, timeoutMs = 0): Promise<T> {
    if (this.closed !== undefined) return Promise.reject(new RpcFailure('closed', this.closed));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { resolve: resolve as (value: unknown) => void, reject };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => this.settle(id, new RpcFailure('timeout', `${method}: no answer within ${timeoutMs} ms`)), timeoutMs);
        entry.timer.unref();
      }
      this.pending.set(id, entry);
      this.transmit({ reclab: 'req', id, method, payload }, (error) => this.settle(id, new RpcFailure('closed', `${method}: ${error.message}`)));
    });
  }

  /** Tells the other end something without waiting for an answer (lost if the channel is closed). */
  notify(method: string, payload: unknown): void {
    this.transmit({ reclab: 'note', method, payload }, () => {});
  }

  /** Feeds a message received from the channel; returns false if it is not one of ours. */
  receive(message: unknown): boolean {
    if (typeof message !== 'object' || message === null || !('reclab' in message)) return false;
    const m = message as RpcMessage;
    if (m.reclab === 'res') {
      this.settle(m.id, m.ok ? undefined : new Error(m.error), m.ok ? m.value : undefined);
    } else if (m.reclab === 'note') {
      const handler = this.handlers.get(m.method);
      if (handler) void Promise.resolve().then(() => handler(m.payload as never)).catch(() => {});
    } else if (m.reclab === 'req') {
      void this.answer(m.id, m.method, m.payload);
    } else {
      return false;
    }
    return true;
  }

  /** Fails every pending request and any later one: the other end is gone. */
  close(reason: string): void {
    this.closed ??= reason;
    for (const id of [...this.pending.keys()]) this.settle(id, new RpcFailure('closed', reason));
  }

  private async answer(id: number, method: string, payload: unknown): Promise<void> {
    const handler = this.handlers.get(method);
    let reply: RpcMessage;
    try {
      if (!handler) throw new Error(`no handler for "${method}"`);
      reply = { reclab: 'res', id, ok: true, value: await handler(payload as never) };
    } catch (e) {
      reply = { reclab: 'res', id, ok: false, error: (e as Error).message ?? String(e) };
    }
    // An answer the other end can no longer receive has nobody waiting for it.
    this.transmit(reply, () => {});
  }

  /** Sends, turning a synchronous throw (channel already closed) into the same path as a failed delivery. */
  private transmit(message: RpcMessage, failed: (error: Error) => void): void {
    try {
      this.send(message, (error) => {
        if (error) failed(error);
      });
    } catch (e) {
      failed(e as Error);
    }
  }

  private settle(id: number, error: Error | undefined, value?: unknown): void {
    const entry = this.pending.get(id);
    if (!entry) return; // answered already, timed out, or failed
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(value);
  }
}
