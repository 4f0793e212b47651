import { UsageError } from '../../errors.js';

/** ioredis connection options for BullMQ. */
export interface RedisConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  /** BullMQ's workers must wait for Redis forever rather than fail a blocking call. */
  maxRetriesPerRequest: null;
  retryStrategy: (times: number) => number;
}

/**
 * Parses redis://[user:password@]host:port/db or rediss:// (TLS). The password stays in the
 * returned options only: {@link redactRedisUrl} is what gets printed or stored.
 */
export function parseRedisUrl(text: string): RedisConnection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `'${redactRedisUrl(text)}' is not a Redis URL: use redis://HOST:PORT/DB or rediss://... for TLS`,
      'queue',
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(
      `'${redactRedisUrl(text)}' is not a Redis URL: use redis://HOST:PORT/DB or rediss://... for TLS`,
      'queue',
    );
  }
  const db = url.pathname.replace(/^\//, '') === '' ? 0 : Number(url.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0)
    throw new UsageError(`the database in '${redactRedisUrl(text)}' must be a number`, 'queue');
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    // Back off up to 10 s between reconnection attempts while Redis is unreachable.
    retryStrategy: (times: number) => Math.min(10000, 200 * 2 ** Math.min(times, 6)),
  };
}

/** The URL with any credential replaced by ***. */
export function redactRedisUrl(text: string): string {
  return text.replace(/^(rediss?:\/\/)([^@/]*)@/, (_m, scheme: string) => `${scheme}***@`);
}
