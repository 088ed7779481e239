/**
 * Slow-client defence for the HTTP server.
 *
 * A client that opens a connection and sends its headers or body a byte at a time holds a socket
 * (and a file descriptor) for as long as it likes; a few hundred of them exhaust the descriptor
 * limit and then nobody — not even a health probe — gets in. Three bounds stop that:
 * - timeouts (set in app.ts): headers within `headersTimeout`, the whole request within
 *   `requestTimeout`, idle sockets closed after `connectionTimeout`;
 * - a connection cap below the process's descriptor limit, so `accept` never fails for lack of
 *   descriptors;
 * - at the cap, a new connection evicts the connection that has waited longest *without work in
 *   progress* — still sending headers or body, or idle between keep-alive requests — rather than
 *   being refused. A request whose body has arrived and is being answered is never cut. So a
 *   flood of slow clients cannot keep a fresh client (or probe) out: each newcomer pushes the
 *   stalest slow one out.
 */
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';

/** Descriptors kept back for the store, model files, logs and worker threads. */
const RESERVED_FDS = 128;

/** The soft limit on open files of this process (Linux /proc), or undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The default connection cap: the descriptor limit less a reserve, at most 100,000. */
export function defaultMaxConnections(): number {
  const limit = openFileLimit();
  return limit === undefined ? 10_000 : Math.max(16, Math.min(100_000, limit - RESERVED_FDS));
}

interface Tracked {
  /** When the socket last started waiting on its client (connect, or the last request's start). */
  since: number;
  /** The request being received or answered, if any. */
  request?: IncomingMessage;
  response?: ServerResponse;
}

/** Statistics of the guard (for /metrics). */
export interface ConnectionStats {
  open: number;
  evicted: number;
  refused: number;
}

/** Caps `server`'s connections at `max`, evicting the stalest waiting one when a new one arrives. */
export function guardConnections(server: Server, max: number): ConnectionStats {
  const sockets = new Map<Socket, Tracked>();
  const stats: ConnectionStats = { open: 0, evicted: 0, refused: 0 };
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { since: performance.now() });
    socket.once('close', () => {
      sockets.delete(socket);
      stats.open = sockets.size;
    });
    if (sockets.size > max) {
      const victim = stalestWaiting(sockets, socket);
      if (victim) {
        stats.evicted++;
        victim.destroy();
      } else {
        stats.refused++;
        socket.destroy();
      }
    }
    stats.open = sockets.size;
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const t = sockets.get(request.socket);
    if (!t) return;
    t.since = performance.now();
    t.request = request;
    t.response = response;
    response.once('finish', () => {
      if (t.response !== response) return;
      t.request = undefined;
      t.response = undefined;
      t.since = performance.now();
    });
  });
  return stats;
}

/** The socket waiting longest for its client (not `except`), or undefined when all are working. */
function stalestWaiting(sockets: Map<Socket, Tracked>, except: Socket): Socket | undefined {
  let best: Socket | undefined;
  let bestSince = Infinity;
  for (const [socket, t] of sockets) {
    if (socket === except) continue;
    // Working: the whole request arrived and the answer is being computed or written.
    if (t.request && t.request.complete) continue;
    if (t.since < bestSince) {
      bestSince = t.since;
      best = socket;
    }
  }
  return best;
}
