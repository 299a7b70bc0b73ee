import { commonConfig, loadConfig } from '@lessoncall/kit';
import { z } from 'zod';

/** Every environment variable the gateway reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  /** Identifies this replica (the pod name in Kubernetes). */
  GATEWAY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default(`gw-${process.pid}`),
  /** HS256 secret of the Supabase project (legacy JWT secret). One of JWT_SECRET / JWT_JWKS_URL is required. */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The project's JWKS (asymmetric signing keys), e.g. https://<ref>.supabase.co/auth/v1/.well-known/jwks.json */
  JWT_JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1).default('authenticated'),
  /** Local demo only: POST /api/dev/token signs tokens for demo users. Never set by the Helm chart. */
  DEV_ISSUER_ENABLED: z.stringbool().default(false),
  /** The web app's origin, the only one CORS allows (comma-separated for several). */
  WEB_ORIGIN: z.string().default(''),
  /** The built web app (web/dist) to serve at /, if set. */
  WEB_DIST_DIR: z.string().optional(),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(3_000),
  REST_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(16_384),
  /** Requests per minute per client (shared across replicas). */
  REST_RATE_PER_MINUTE: z.coerce.number().int().positive().default(600),
  WS_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(65_536),
  /** Messages per second per session, with bursts of twice that. */
  WS_RATE_PER_SECOND: z.coerce.number().int().positive().default(50),
  WS_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  /** On SIGTERM: how long sockets get to move to another replica before the process exits. */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Trust X-Forwarded-For from this many proxies (the ingress) for client keys. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).default(0),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig('gateway', configSchema, env);
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL) {
    throw new Error('gateway: invalid configuration:\n  JWT_SECRET or JWT_JWKS_URL is required (how access tokens are verified)');
  }
  return config;
}
