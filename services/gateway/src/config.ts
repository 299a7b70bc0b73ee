import { commonConfig, loadConfig, csv } from '@lessoncall/kit';
import { z } from 'zod';
import { parseTrustedProxies } from './client-address';

/** Every environment variable the gateway reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  /**
   * /metrics (with /healthz and /readyz) on a port of its own, never the public PORT, so the
   * ingress cannot serve it. Unset: no metrics endpoint (the chart sets 9090).
   */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Identifies this replica (the pod name in Kubernetes). */
  GATEWAY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default(`gw-${process.pid}`),
  /** HS256 secret of the Supabase project (legacy JWT secret). One of JWT_SECRET / JWT_JWKS_URL is required. */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The project's JWKS (asymmetric signing keys), e.g. https://<ref>.supabase.co/auth/v1/.well-known/jwks.json */
  JWT_JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1).default('authenticated'),
  /**
   * The booking system's client id: the `iss` and `sub` of the tokens it signs with its own
   * key for the REST API (create a meeting, find one by booking, attendance). Unset: no
   * service credential is accepted and the booking system talks over NATS only. Supabase's
   * service_role tokens are never accepted.
   */
  BOOKING_CLIENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be a client id (letters, digits, . _ : -)')
    .optional(),
  /** The booking system's public signing keys, a JWKS document (`{"keys":[…]}`, ES256/RS256/EdDSA); not a secret. Needed with BOOKING_CLIENT_ID. */
  BOOKING_JWKS: z.string().min(1).optional(),
  /** The `aud` the booking system's tokens must carry: this API and nothing else. */
  BOOKING_AUDIENCE: z.string().min(1).default('lessoncall'),
  /** The longest lifetime (exp − iat) a booking system token may have: its tokens are short-lived assertions. */
  BOOKING_TOKEN_MAX_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
  /**
   * Local demo only: POST /api/dev/token signs tokens for the two demo users, with
   * DEV_ISSUER_SECRET. Refused unless JWT_ISSUER is on this machine (localhost) and no real
   * project is configured (JWT_JWKS_URL, SUPABASE_URL); the chart refuses it with a public host.
   */
  DEV_ISSUER_ENABLED: z.stringbool().default(false),
  /** The dev issuer's own HS256 secret (never the project's JWT_SECRET); tokens it signs are accepted for the demo users only. */
  DEV_ISSUER_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The web app's origin, the only one CORS allows (comma-separated for several). */
  WEB_ORIGIN: z.string().default(''),
  /** The built web app (web/dist) to serve at /, if set. */
  WEB_DIST_DIR: z.string().optional(),
  /**
   * The media service's local recording storage (RECORDINGS_STORAGE=local, the local stack): the
   * gateway serves its files at /api/video/recordings/<key> to links the media service signed with
   * RECORDINGS_SIGNING_SECRET. Unset (S3 storage): links point at the bucket and nothing is served here.
   */
  RECORDINGS_DIR: z.string().optional(),
  RECORDINGS_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Deadline of every NATS request the gateway makes (REST, WebSocket, presence, JetStream
   * publish): past it the client gets 503 service_unavailable, never a hang.
   */
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(3_000),
  REST_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(16_384),
  /** Requests per minute per client address (shared across replicas). */
  REST_RATE_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** Requests per minute per signed-in user on authenticated routes, on top of the per-address limit (shared across replicas). */
  REST_USER_RATE_PER_MINUTE: z.coerce.number().int().positive().default(300),
  /** Lobby connection checks (TURN credentials before Join) one user may ask for per minute; a check asks once, "test again" once more. */
  PRECALL_RATE_PER_USER: z.coerce.number().int().positive().default(6),
  /** Lobby connection checks per minute from one client address (higher than per user: students behind one school NAT share it). */
  PRECALL_RATE_PER_ADDRESS: z.coerce.number().int().positive().default(30),
  WS_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(65_536),
  /** Messages per second per session, with bursts of twice that. */
  WS_RATE_PER_SECOND: z.coerce.number().int().positive().default(50),
  /** Chat messages one session may send per minute, on average (a typing human sends a few); more answers `rate_limited`. */
  CHAT_RATE_PER_MINUTE: z.coerce.number().int().positive().default(30),
  /** Chat messages a session may send at once before CHAT_RATE_PER_MINUTE applies (a pasted burst of lines). */
  CHAT_BURST: z.coerce.number().int().positive().default(10),
  /** Whiteboard updates one session may send per second, on average (the web client sends at most 10: it batches strokes every 100 ms); more answers `rate_limited`. */
  BOARD_UPDATES_PER_SECOND: z.coerce.number().int().positive().default(20),
  /** Whiteboard updates a session may send at once before BOARD_UPDATES_PER_SECOND applies (a paste, a resend after a resume). */
  BOARD_BURST: z.coerce.number().int().positive().default(60),
  /** Call quality samples one session may send per minute (the web client sends one per peer every 10 s). */
  QUALITY_REPORTS_PER_MINUTE: z.coerce.number().int().positive().default(30),
  WS_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  /** WebSocket upgrades per minute per client address on one replica, after WS_UPGRADE_BURST at once; more answer 429 rate_limited. */
  WS_UPGRADES_PER_MINUTE: z.coerce.number().int().positive().default(60),
  /** Upgrades one client address may make at once (a classroom behind one NAT joining together). */
  WS_UPGRADE_BURST: z.coerce.number().int().positive().default(30),
  /** WebSockets one client address may hold open on one replica; more answer 429 rate_limited. */
  WS_MAX_SOCKETS_PER_CLIENT: z.coerce.number().int().positive().default(50),
  /**
   * How long a sign-out (POST /api/video/sign-out) is remembered, in seconds: at least the
   * issuer's access-token lifetime (Supabase: Auth → JWT expiry, 3600 by default), after which
   * every token it speaks of has expired anyway.
   */
  TOKEN_REVOCATION_TTL_SECONDS: z.coerce.number().int().min(60).default(86_400),
  /** On SIGTERM: how long sockets get to move to another replica before the process exits. */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * Proxies (the ingress controller) whose X-Forwarded-For gives the client's address for rate
   * limits and passcode lockout: comma-separated CIDRs. Empty: the direct peer is the client.
   * Replaces TRUST_PROXY_HOPS, which trusted any peer's header.
   */
  TRUSTED_PROXY_CIDRS: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      try {
        parseTrustedProxies(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  /** Allowed clock skew when checking exp/nbf/iat of access tokens. */
  JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).default(30),
  /** How long fetched signing keys are trusted before the JWKS is fetched again. */
  JWKS_CACHE_MAX_AGE_MS: z.coerce.number().int().positive().default(600_000),
  /** Minimum time between two JWKS fetches (an unknown `kid` triggers one: key rotation). */
  JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
  JWKS_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** How long a verified access token is remembered (never past its exp); 0 checks every request. */
  JWT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(60_000),
  JWT_CACHE_MAX_ENTRIES: z.coerce.number().int().positive().default(50_000),
  /** Lifetime of tokens the dev issuer signs. */
  DEV_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(3_600),
  /** How stale a replica's view of the shared rate-limit counts may get (and how often it adds its own); 0: exact, one KV write per request. */
  REST_RATE_SYNC_MS: z.coerce.number().int().min(0).default(250),
  /** Supabase project URL, allowed in the web app's CSP connect-src when set. */
  SUPABASE_URL: z.url().optional(),
  /**
   * The Janus nodes' public URLs (ws:// or wss://, comma-separated): sfu meetings connect to them,
   * so the web app's CSP connect-src lists exactly these (never any ws: host).
   */
  JANUS_PUBLIC_URLS: csv().pipe(z.array(z.string().regex(/^wss?:\/\/[^\s/]+/, 'must be a ws:// or wss:// URL'))),
  /** A WebSocket must send a valid `hello` this soon after opening (and after a failed hello), or it is closed. */
  WS_HELLO_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Failed hellos one socket may send before it is closed as abuse. */
  WS_MAX_FAILED_HELLOS: z.coerce.number().int().positive().default(5),
  /**
   * Frames above WS_MAX_MESSAGE_BYTES get a message_too_large error; frames above this are
   * abuse and close the socket (1009). Defaults to 4 × WS_MAX_MESSAGE_BYTES.
   */
  WS_ABUSE_MESSAGE_BYTES: z.coerce.number().int().positive().optional(),
  /** More than this many times WS_RATE_PER_SECOND messages within one second closes the socket (1008). */
  WS_ABUSE_RATE_FACTOR: z.coerce.number().int().min(2).default(10),
  /** How often each live session's heartbeat is reported to the participant service (rounded up to a WS_HEARTBEAT_MS tick). */
  WS_PRESENCE_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
  /** Presence requests in flight at once, so a heartbeat round of 20k sockets is a trickle, not a burst. */
  WS_PRESENCE_CONCURRENCY: z.coerce.number().int().positive().default(64),
  /** On drain, each socket is told to reconnect after a random delay up to this, spreading the load on the other replicas. */
  WS_RECONNECT_SPREAD_MS: z.coerce.number().int().min(0).default(3_000),
  /** A socket whose unsent backlog exceeds this is a slow consumer and is dropped (it resumes on reconnect). */
  WS_SEND_BUFFER_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /**
   * Signals go straight to the gateway holding the target (signal.deliver.<session>) when this
   * gateway's roster view has both ends live in the meeting; false sends every signal through
   * the signaling service (signal.route.<meeting>), as before the view existed.
   */
  SIGNAL_DIRECT: z.stringbool().default(true),
  /** After a signal to a peer went through the signaling service, later ones to it follow for this long, so they stay in order. */
  SIGNAL_STICKY_MS: z.coerce.number().int().min(0).default(2_000),
  /** A session that left is remembered this long, so a late participant.joined or an old snapshot cannot bring it back. */
  SIGNAL_TOMBSTONE_TTL_MS: z.coerce.number().int().positive().default(600_000),
  /** Least time between two re-reads of one meeting's live sessions after a miss in the roster view. */
  SIGNAL_ROSTER_RECHECK_MS: z.coerce.number().int().min(0).default(1_000),
  /** How long a receiving gateway holds a signal that came before the ones its sender numbered earlier, waiting for them. */
  SIGNAL_REORDER_WAIT_MS: z.coerce.number().int().min(0).default(250),
  /** Early signals held per sender at most; past it the missing ones are given up on at once. */
  SIGNAL_REORDER_MAX: z.coerce.number().int().positive().default(64),
  /** Signals waiting for NATS in one turn of the event loop; past it the gateway refuses with `unavailable` instead of queueing without bound. */
  SIGNAL_QUEUE_MAX: z.coerce.number().int().positive().default(20_000),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env) {
  // Removed rather than kept as an alias: a hop count trusts whatever any pod sends, and quietly
  // ignoring it would key every client by the ingress's address (one shared rate limit).
  if (env.TRUST_PROXY_HOPS !== undefined) {
    throw new Error(
      "gateway: invalid configuration:\n  TRUST_PROXY_HOPS was removed: set TRUSTED_PROXY_CIDRS to the ingress controller's addresses (e.g. 10.0.0.0/8)",
    );
  }
  const config = loadConfig('gateway', configSchema, env);
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL) {
    throw new Error('gateway: invalid configuration:\n  JWT_SECRET or JWT_JWKS_URL is required (how access tokens are verified)');
  }
  if (Boolean(config.BOOKING_CLIENT_ID) !== Boolean(config.BOOKING_JWKS)) {
    throw new Error("gateway: invalid configuration:\n  BOOKING_CLIENT_ID and BOOKING_JWKS go together (the booking system's client id and its public keys)");
  }
  if (config.BOOKING_JWKS) parseBookingJwks(config.BOOKING_JWKS);
  if (config.DEV_ISSUER_ENABLED) {
    const problems = devIssuerProblems(config);
    if (problems.length > 0) throw new Error(`gateway: invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return config;
}

const localHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Why the dev issuer may not run with this configuration: it must never sign for a real project. */
export function devIssuerProblems(config: Pick<GatewayConfig, 'JWT_ISSUER' | 'JWT_SECRET' | 'JWT_JWKS_URL' | 'SUPABASE_URL' | 'DEV_ISSUER_SECRET'>): string[] {
  const problems: string[] = [];
  if (!config.DEV_ISSUER_SECRET) problems.push("DEV_ISSUER_ENABLED needs DEV_ISSUER_SECRET (its own secret, not the project's)");
  else if (config.DEV_ISSUER_SECRET === config.JWT_SECRET) problems.push("DEV_ISSUER_SECRET must not be the project's JWT_SECRET");
  let host = '';
  try {
    host = new URL(config.JWT_ISSUER).hostname;
  } catch {
    // not a URL: not a local issuer either
  }
  if (!localHosts.has(host) && !host.endsWith('.localhost')) {
    problems.push(`DEV_ISSUER_ENABLED is for a local issuer only (JWT_ISSUER on localhost), not ${JSON.stringify(config.JWT_ISSUER)}`);
  }
  if (config.JWT_JWKS_URL) problems.push("DEV_ISSUER_ENABLED cannot run with JWT_JWKS_URL (a real project's keys)");
  if (config.SUPABASE_URL) problems.push('DEV_ISSUER_ENABLED cannot run with SUPABASE_URL (a real project)');
  return problems;
}

/** BOOKING_JWKS as a key set; throws a configuration error unless it is a JWKS document of public keys only. */
export function parseBookingJwks(text: string): { keys: Record<string, unknown>[] } {
  try {
    const doc = JSON.parse(text) as { keys?: unknown };
    if (Array.isArray(doc.keys) && doc.keys.length > 0 && doc.keys.every((k) => typeof k === 'object' && k !== null && !('d' in k) && !('k' in k)))
      return doc as { keys: Record<string, unknown>[] };
  } catch {
    // reported below
  }
  throw new Error('gateway: invalid configuration:\n  BOOKING_JWKS must be a JWKS document of public keys ({"keys":[…]}, no private or symmetric keys)');
}
