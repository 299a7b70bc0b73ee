import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(service: string, problems: readonly string[]) {
    super(`${service}: invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Settings every process shares. Services extend this with their own keys. */
export const commonConfig = {
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Human-readable logs (development); JSON lines otherwise. */
  LOG_PRETTY: z.stringbool().default(false),
  /** NATS server(s) with JetStream, comma-separated. */
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** This service's nkey seed (`SU…`); a secret. Unset only against a server without authorization (never in the chart). */
  NATS_NKEY_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, 'must be a user nkey seed (SU…)')
    .optional(),
  /** Reply subjects of this process start here; the server lets each role read only its own (e.g. `_INBOX.gateway`). */
  NATS_INBOX_PREFIX: z
    .string()
    .regex(/^_INBOX(\.[A-Za-z0-9_-]+)*$/, 'must be _INBOX or _INBOX.<role>')
    .default('_INBOX'),
  /**
   * Copies of every JetStream stream and KV bucket this service creates: 3 on a three-node
   * cluster, so a node lost loses no event and stops no consumer (the chart sets it from
   * nats.replicas). An existing stream is brought to this count.
   */
  JETSTREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** OTLP/HTTP collector (e.g. http://otel-collector:4318): traces, and every /metrics family (histograms with their buckets), are exported only when set. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** On SIGTERM: how long in-flight work may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  /**
   * /readyz answers from a result at most this old: however often it is probed (or hit from
   * outside), NATS and Postgres see one check per interval. A lost NATS connection shows at once.
   */
  READINESS_CACHE_MS: z.coerce.number().int().min(0).default(2_000),
};

/** The health/readiness/metrics port of a backend service. */
export const healthPort = {
  /** Port of /healthz, /readyz and /metrics. */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(9090),
};

export const databaseUrl = {
  /** Postgres (Supabase) connection URL; a secret. */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /** Connections this process keeps to Postgres. */
  DATABASE_POOL_SIZE: z.coerce.number().int().positive().default(10),
};

/** Comma-separated list, empty entries dropped. */
export const csv = () =>
  z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    );

/**
 * Reads and checks the environment once, at start-up. Every missing or bad variable is
 * named in one error, so a misconfigured pod fails with the whole list.
 */
export function loadConfig<S extends z.ZodRawShape>(service: string, shape: S, env: Record<string, string | undefined> = process.env): z.infer<z.ZodObject<S>> {
  const schema = z.object(shape);
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    picked[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      return picked[key] === undefined ? `${key} is required (${issue.message})` : `${key}: ${issue.message}`;
    });
    throw new ConfigError(service, problems);
  }
  return result.data;
}
