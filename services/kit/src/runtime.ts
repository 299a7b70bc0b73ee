import type { Server } from 'node:http';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Db } from './db';
import { cachedReadiness, type Readiness, type ReadinessCheck, startHealthServer } from './health';
import { createLogger, type Logger } from './logger';
import { retryWhileJetStreamUnavailable } from './jetstream';
import { createMetrics, type Metrics } from './metrics';
import { connectNats } from './nats';
import { setupTelemetry, type Telemetry } from './telemetry';

export interface RuntimeConfig {
  LOG_LEVEL: string;
  LOG_PRETTY: boolean;
  NATS_URL: string;
  NATS_NKEY_SEED?: string | undefined;
  NATS_INBOX_PREFIX?: string | undefined;
  NATS_TLS_CA_FILE?: string | undefined;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  HEALTH_PORT?: number | undefined;
  READINESS_CACHE_MS?: number;
  DATABASE_URL?: string;
  DATABASE_POOL_SIZE?: number;
  JETSTREAM_REPLICAS?: number;
}

/** What every service process holds: logger, bus, metrics, tracing, and optionally Postgres. */
export interface Runtime {
  service: string;
  logger: Logger;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Where the service's instruments are created (`metrics.meter`), and what /metrics serves (`metrics.text()`). */
  metrics: Metrics;
  db: Db | undefined;
  health: (Server & { port: number }) | undefined;
  /** What /readyz answers (cached: see READINESS_CACHE_MS); the gateway's public /readyz uses it too. */
  readiness: Readiness;
  telemetry: Telemetry;
  /** The service's start-up is complete: /readyz may answer ready from now on (it says `starting` before). */
  markStarted(): void;
  /** Drains the bus, closes Postgres and the health server, flushes traces and metrics. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger?: Logger;
  /** Readiness checks beyond NATS and Postgres. */
  checks?: Record<string, ReadinessCheck>;
  /** Tests set up tracing once themselves (with an in-memory exporter). */
  telemetry?: false;
}

export async function createRuntime(service: string, config: RuntimeConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(service, { level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  // Without telemetry (tests) nothing is pushed over OTLP; /metrics serves the same instruments either way.
  const otlpEndpoint = options.telemetry === false ? undefined : config.OTEL_EXPORTER_OTLP_ENDPOINT;
  const metrics = createMetrics(service, { otlpEndpoint });
  const telemetry: Telemetry = options.telemetry === false ? { shutdown: async () => {} } : setupTelemetry(service, { otlpEndpoint });
  const nc = await connectNats({
    url: config.NATS_URL,
    name: service,
    logger,
    nkeySeed: config.NATS_NKEY_SEED,
    inboxPrefix: config.NATS_INBOX_PREFIX,
    tlsCaFile: config.NATS_TLS_CA_FILE,
  });
  const jsm = await retryWhileJetStreamUnavailable(() => jetstreamManager(nc), { logger, what: 'JetStream account' });
  const js = jetstream(nc);
  const db = config.DATABASE_URL
    ? new Db({ url: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: service, sessionRole: 'service_role' })
    : undefined;
  let natsConnected = true;
  let started = false;
  const checks: Record<string, ReadinessCheck> = {
    // The health server is up from here, but the service is not until its start-up (streams,
    // consumers, subscriptions) has finished: until markStarted(), /readyz says so.
    started: async () => {
      if (!started) throw new Error('starting');
    },
    nats: async () => {
      if (nc.isClosed()) throw new Error('closed');
      if (!natsConnected) throw new Error('disconnected');
      await nc.flush();
    },
    ...(db ? { postgres: () => db.ping() } : {}),
    ...options.checks,
  };
  const ready = cachedReadiness(checks, { cacheMs: config.READINESS_CACHE_MS ?? 2_000 });
  // Losing or regaining NATS shows on the next probe, not when the cached result expires.
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') {
        natsConnected = s.type === 'reconnect';
        ready.invalidate();
      }
    }
  })().catch(() => {});
  const health = config.HEALTH_PORT === undefined ? undefined : await startHealthServer({ port: config.HEALTH_PORT, metrics, readiness: ready });
  return {
    service,
    logger,
    nc,
    js,
    jsm,
    metrics,
    db,
    health,
    readiness: ready,
    telemetry,
    markStarted() {
      started = true;
      ready.invalidate();
    },
    async close() {
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
      if (!nc.isClosed()) await nc.drain().catch(() => {});
      await db?.close().catch(() => {});
      await Promise.all([metrics.shutdown().catch(() => {}), telemetry.shutdown().catch(() => {})]);
    },
  };
}
