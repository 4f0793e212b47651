import { Redis } from 'ioredis';
import { redactRedisUrl, type RedisConnection } from './redis-url.js';

/** Redis could not be reached when a command needs it now (not a worker, which waits). */
export class QueueUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueUnreachableError';
  }
}

/**
 * Connects once, without retrying, and pings: a command that needs Redis now (the coordinator at
 * its start, `featshift status`) says in one line that it is unreachable instead of retrying
 * forever or printing ioredis's stack traces.
 */
export async function probeRedis(connection: RedisConnection, url: string): Promise<void> {
  const client = new Redis({
    ...connection,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 5000,
    retryStrategy: () => null,
  });
  client.on('error', () => {
    // Reported below, once.
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new QueueUnreachableError(
      `cannot reach Redis at ${redactRedisUrl(url)} (${reason}): start redis-server there, or give the right --queue URL`,
    );
  } finally {
    client.disconnect();
  }
}
