/** HTTP load helpers shared by the benches that start a `reclab serve` (serve, scale ann-1m-http). */
import autocannon from 'autocannon';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** One autocannon run; returns its result. */
export function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((ok, fail) => {
    autocannon(opts, (err, result) => (err ? fail(err) : ok(result)));
  });
}
