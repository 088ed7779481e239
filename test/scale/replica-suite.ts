/**
 * The set-up of a two-replica test file (vitest hooks), apart from replica-flow.ts, which the
 * scale bench imports outside vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import { testRedis, type TestRedis } from './harness.ts';
import { freshDatabase, startReplicas, stopReplicas } from './replica-flow.ts';

/** What {@link useReplicas} set up: the Redis, the fresh database and the two replicas. */
export interface ReplicaSuite {
  redis: TestRedis;
  db: { url: string; drop: () => Promise<void> };
  replicas: Awaited<ReturnType<typeof startReplicas>>;
}

/**
 * Registers the set-up of a two-replica test file: a Redis (its own when `own`, so the file may
 * restart it), a fresh database on RECLAB_TEST_PG_URL and two replicas, all torn down after. The
 * getter gives undefined when Redis or PostgreSQL is missing (a warning names which).
 */
export function useReplicas(name: string, own = false): () => ReplicaSuite | undefined {
  const pgUrl = process.env.RECLAB_TEST_PG_URL;
  let redis: TestRedis | { skip: string } | undefined;
  let db: ReplicaSuite['db'] | undefined;
  let replicas: ReplicaSuite['replicas'] | undefined;
  beforeAll(async () => {
    redis = await testRedis(own ? { own: true } : undefined);
    if ('skip' in redis) console.warn(`${name}: skipped: ${redis.skip}`);
    if (!pgUrl) console.warn(`${name}: skipped: RECLAB_TEST_PG_URL is not set (see test/serve/pg-start.sh)`);
    if ('skip' in redis || !pgUrl) return;
    db = await freshDatabase(pgUrl);
    replicas = await startReplicas(db.url, redis.url);
  }, 180_000);
  afterAll(async () => {
    if (replicas) await stopReplicas(replicas.children);
    await db?.drop();
    if (redis && !('skip' in redis)) await redis.stop();
  }, 60_000);
  return () => (redis && !('skip' in redis) && db && replicas ? { redis, db, replicas } : undefined);
}
