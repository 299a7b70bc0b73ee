import { type Clock, type JetStreamClient, jetstream, type Logger, type Runtime } from '@lessoncall/kit';
import { type KV, Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import type { GatewayConfig } from '../config';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

export interface RateLimiter {
  take(clientKey: string): Promise<RateDecision>;
}

export interface RateLimiterOptions {
  js: JetStreamClient;
  bucket: string;
  limit: number;
  windowMs: number;
  /** How stale a replica's view of the shared count may get (and how often it adds its own); 0 writes through. */
  syncMs: number;
  clock: Clock;
  logger: Logger;
  /** Copies of the bucket across the NATS cluster (JETSTREAM_REPLICAS). */
  replicas?: number;
}

interface Entry {
  kvKey: string;
  window: number;
  /** The shared count as last read from or written to KV (all replicas). */
  shared: number;
  /** KV revision of `shared`; 0 while the key does not exist. */
  revision: number;
  /** Requests this replica admitted that are not in `shared` yet. */
  pending: number;
  lastSync: number;
  /** KV operations of one key run one after another. */
  chain: Promise<void>;
  refreshing: Promise<void> | undefined;
  flushTimer: NodeJS.Timeout | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A fixed-window counter per client, shared across gateway replicas through a NATS KV bucket
 * (compare-and-set on the key's revision). Each replica admits from its view of the shared
 * count plus what it admitted since, and folds its own count into KV every `syncMs`: one hot
 * client costs a replica one KV round trip per `syncMs`, not per request, and replicas may
 * over-admit by at most what arrives within `syncMs`. When KV is unreachable the replica
 * keeps counting locally (fails open to a per-replica limit) rather than refusing traffic.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { limit, windowMs, syncMs, clock, logger } = options;
  const entries = new Map<string, Entry>();
  let currentWindow = -1;
  let kv: Promise<KV> | undefined;
  let lastWarn = 0;
  // After a failure the store is left alone for a while: no request waits on a dead store.
  const backoffMs = Math.max(syncMs * 20, 1_000);
  let storeDownUntil = 0;

  const bucket = (): Promise<KV> => {
    if (clock.now().getTime() < storeDownUntil) return Promise.reject(new Error('rate limit store backing off after a failure'));
    kv ??= new Kvm(options.js)
      .create(options.bucket, { history: 1, ttl: windowMs * 2, storage: StorageType.Memory, replicas: options.replicas ?? 1 })
      .catch((err) => {
        kv = undefined;
        throw err;
      });
    return kv;
  };

  const warn = (err: unknown, what: string): void => {
    const now = clock.now().getTime();
    if (now - lastWarn < 10_000) return;
    lastWarn = now;
    logger.warn({ err, bucket: options.bucket }, `rate limit store ${what} failed; counting locally`);
  };

  const enqueue = (entry: Entry, op: () => Promise<void>): Promise<void> => {
    entry.chain = entry.chain.then(op).catch((err) => {
      if (clock.now().getTime() >= storeDownUntil) {
        storeDownUntil = clock.now().getTime() + backoffMs;
        warn(err, 'sync');
      }
    });
    return entry.chain;
  };

  const refresh = async (entry: Entry): Promise<void> => {
    try {
      const store = await bucket();
      const current = await store.get(entry.kvKey);
      if (current && current.operation === 'PUT') {
        entry.shared = Number(decoder.decode(current.value)) || 0;
        entry.revision = current.revision;
      }
    } finally {
      // Also after a failure: the next attempt waits for the next sync period, not every request.
      entry.lastSync = clock.now().getTime();
    }
  };

  const flush = async (entry: Entry): Promise<void> => {
    const adding = entry.pending;
    if (adding === 0) return;
    const store = await bucket();
    for (let attempt = 0; attempt < 8; attempt++) {
      const next = entry.shared + adding;
      try {
        const revision =
          entry.revision === 0
            ? await store.create(entry.kvKey, encoder.encode(String(next)))
            : await store.update(entry.kvKey, encoder.encode(String(next)), entry.revision);
        // Both together, so that shared + pending never counts a request twice or not at all.
        entry.shared = next;
        entry.pending -= adding;
        entry.revision = revision;
        entry.lastSync = clock.now().getTime();
        return;
      } catch {
        // Another replica wrote first: read its count and add ours to it.
        await refresh(entry);
      }
    }
    throw new Error(`rate limit key ${entry.kvKey} stayed contended`);
  };

  const scheduleFlush = (entry: Entry): void => {
    if (entry.flushTimer) return;
    entry.flushTimer = setTimeout(() => {
      entry.flushTimer = undefined;
      void enqueue(entry, () => flush(entry)).then(() => {
        if (entry.pending > 0 && entries.get(entry.kvKey) === entry) scheduleFlush(entry);
      });
    }, syncMs);
    entry.flushTimer.unref();
  };

  const sweep = (window: number): void => {
    if (window === currentWindow) return;
    currentWindow = window;
    for (const [key, entry] of entries) {
      if (entry.window < window) {
        clearTimeout(entry.flushTimer);
        entries.delete(key);
      }
    }
  };

  return {
    async take(clientKey) {
      const now = clock.now().getTime();
      const window = Math.floor(now / windowMs);
      sweep(window);
      const kvKey = `c_${Buffer.from(clientKey).toString('base64url')}.w${window}`;
      let entry = entries.get(kvKey);
      if (!entry) {
        entry = {
          kvKey,
          window,
          shared: 0,
          revision: 0,
          pending: 0,
          lastSync: -Infinity,
          chain: Promise.resolve(),
          refreshing: undefined,
          flushTimer: undefined,
        };
        entries.set(kvKey, entry);
      }
      if (now - entry.lastSync >= syncMs) {
        const e = entry;
        e.refreshing ??= enqueue(e, () => refresh(e)).finally(() => {
          e.refreshing = undefined;
        });
        await e.refreshing;
      }
      const resetSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
      const used = entry.shared + entry.pending;
      if (used >= limit) return { allowed: false, limit, remaining: 0, resetSeconds };
      entry.pending++;
      // REST_RATE_SYNC_MS=0: write-through, exact across replicas at one KV round trip per request.
      if (syncMs === 0) await enqueue(entry, () => flush(entry));
      else scheduleFlush(entry);
      return { allowed: true, limit, remaining: limit - used - 1, resetSeconds };
    },
  };
}

/**
 * `limit` requests per minute on the gateway's one REST bucket, shared across replicas (its
 * NATS permissions name that bucket): every REST limit is one of these, kept apart by its keys.
 */
export function restRateLimiter(config: GatewayConfig, runtime: Runtime, clock: Clock, limit: number): RateLimiter {
  return createRateLimiter({
    js: jetstream(runtime.nc, { timeout: config.REQUEST_TIMEOUT_MS }),
    bucket: 'gateway_ratelimit',
    limit,
    windowMs: 60_000,
    syncMs: config.REST_RATE_SYNC_MS,
    clock,
    logger: runtime.logger,
    replicas: config.JETSTREAM_REPLICAS,
  });
}
