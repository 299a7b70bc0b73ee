import { randomBytes } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { createLogger, type Logger, type RuntimeOptions } from '@lessoncall/kit';
import { type Harness, type JanusServer, setup } from '@lessoncall/kit/testing';
import { loadMediaConfig, type MediaService, startMediaService } from '@lessoncall/media';
import { type DevTokenOptions, newBookingSystemKey, signBookingSystemToken, signDevToken, type TokenVerifier } from '../src/auth/index';
import { type GatewayConfig, loadGatewayConfig } from '../src/config';
import { type Gateway, startGateway } from '../src/gateway';
import { loadMeetingConfig, type MeetingService, startMeetingService } from '@lessoncall/meeting';
import { createTestMeeting, type TestMeeting } from '@lessoncall/meeting/testing';
import { loadParticipantConfig, type ParticipantService, startParticipantService } from '@lessoncall/participant';
import { loadSignalingConfig, type SignalingService, startSignalingService } from '@lessoncall/signaling';
import { loadTurnConfig, startTurnService, type TurnService } from '@lessoncall/turn';
import type { Clock } from '@lessoncall/kit';
import { expect } from 'vitest';

export const demoTutorId = '11111111-1111-4111-8111-111111111111';
export const demoStudentId = '22222222-2222-4222-8222-222222222222';

/** A fresh secret per gateway, so a token from one test gateway never works on another by accident. */
export function testSecret(): string {
  return randomBytes(32).toString('hex');
}

export interface TestGateway {
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port> */
  wsUrl: string;
  /** http://127.0.0.1:<HEALTH_PORT>/metrics: metrics are not on the public port. */
  metricsUrl: string;
  gateway: Gateway;
  config: GatewayConfig;
  /** An access token of the shape Supabase issues, signed with this gateway's secret. */
  tokenFor(userId: string, opts?: Omit<DevTokenOptions, 'userId'>): Promise<string>;
  /** The booking system's own credential: a token signed with its key (BOOKING_CLIENT_ID / BOOKING_JWKS of this gateway). */
  serviceToken(opts?: Parameters<typeof signBookingSystemToken>[1]): Promise<string>;
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  verifier?: TokenVerifier;
  logger?: Logger;
  /** Defaults to false: a test file that checks traces calls setupTelemetry itself, once. */
  telemetry?: RuntimeOptions['telemetry'];
  /** Pins the drain's reconnect spread (see attachWebSocket). */
  random?: () => number;
}

/**
 * Starts a gateway in-process on a free port against the harness's NATS, as main does.
 * `overrides` are environment variables (the config's keys), e.g. { REST_RATE_PER_MINUTE: '5' }.
 */
export async function startTestGateway(h: Harness, overrides: Record<string, string | undefined> = {}, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const bookingKey = await newBookingSystemKey();
  const config = loadGatewayConfig({
    ...h.natsEnv('gateway'),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    JWT_SECRET: testSecret(),
    JWT_ISSUER: 'http://127.0.0.1/auth/v1',
    JWT_AUDIENCE: 'authenticated',
    REQUEST_TIMEOUT_MS: '2000',
    DRAIN_TIMEOUT_MS: '1000',
    HEALTH_PORT: '0',
    // Every test socket comes from 127.0.0.1; the suite that tests these limits sets its own.
    WS_UPGRADE_BURST: '100000',
    WS_MAX_SOCKETS_PER_CLIENT: '100000',
    BOOKING_CLIENT_ID: bookingKey.clientId,
    BOOKING_JWKS: JSON.stringify(bookingKey.jwks),
    ...overrides,
  });
  const logger = options.logger ?? createLogger('gateway', { level: config.LOG_LEVEL });
  const gateway = await startGateway(config, {
    logger,
    telemetry: options.telemetry ?? false,
    ...(options.verifier ? { verifier: options.verifier } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
  const url = `http://127.0.0.1:${gateway.port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${gateway.port}`,
    metricsUrl: `http://127.0.0.1:${gateway.runtime.health?.port}/metrics`,
    gateway,
    config,
    tokenFor: (userId, opts = {}) => signDevToken(config, { ...opts, userId }),
    serviceToken: (opts = {}) => signBookingSystemToken(bookingKey, { audience: config.BOOKING_AUDIENCE, ...opts }),
    stop: () => gateway.stop(),
  };
}

export type { TestMeeting };

export interface Backend {
  meeting: MeetingService;
  participant: ParticipantService;
  signaling: SignalingService[];
  turn: TurnService | undefined;
  /** A meeting joinable now (scheduled to start a minute ago, for an hour), created as the booking system would. */
  createMeeting(): Promise<TestMeeting>;
  stop(): Promise<void>;
}

export interface BackendOptions {
  clock?: Clock;
  logger?: Logger;
  /** Environment overrides per service (their config keys). */
  meeting?: Record<string, string | undefined>;
  participant?: Record<string, string | undefined>;
  /**
   * The turn service's coturn settings (joins then carry them as ICE servers); by default a
   * fresh secret and a coturn URL nobody dials; `false`: no turn service.
   */
  turn?: false | { secret: string; urls: string[] };
  /** Signaling replicas started in-process (default 1; 0 when a test runs them as processes). */
  signaling?: number;
}

/** A participant service as a restart brings it back (after `backend.participant.stop()`): a new process on the same NATS and database. */
export function restartParticipant(h: Harness, overrides: Record<string, string> = {}): Promise<ParticipantService> {
  return startParticipantService(
    loadParticipantConfig({
      DATABASE_URL: h.postgres?.url,
      HEALTH_PORT: '0',
      LOG_LEVEL: 'silent',
      ...h.natsEnv('participant'),
      RESUME_TOKEN_SECRET: testSecret(),
      ...overrides,
    }),
    { logger: createLogger('restarted', { level: 'silent' }), telemetry: false },
  );
}

/**
 * The real services behind the gateway, in-process against the harness's NATS and Postgres
 * (setup({ postgres: true })), with tracing left to the test file. REST and WebSocket tests
 * share it, so both talk to the same back end.
 */
export async function startBackend(h: Harness, options: BackendOptions = {}): Promise<Backend> {
  if (!h.postgres) throw new Error('startBackend needs setup({ postgres: true })');
  const logger = options.logger ?? createLogger('backend', { level: 'silent' });
  const common = { DATABASE_URL: h.postgres.url, HEALTH_PORT: '0', LOG_LEVEL: 'silent' };
  const deps = { logger, telemetry: false as const, ...(options.clock ? { clock: options.clock } : {}) };
  const meeting = await startMeetingService(loadMeetingConfig({ ...common, ...h.natsEnv('meeting'), ...options.meeting }), deps);
  const participant = await startParticipantService(
    loadParticipantConfig({ ...common, ...h.natsEnv('participant'), RESUME_TOKEN_SECRET: testSecret(), ...options.participant }),
    deps,
  );
  const coturn = options.turn ?? { secret: testSecret(), urls: ['turn:127.0.0.1:3478?transport=udp'] };
  const turn =
    coturn === false
      ? undefined
      : await startTurnService(loadTurnConfig({ ...common, ...h.natsEnv('turn'), TURN_SECRET: coturn.secret, TURN_URLS: coturn.urls.join(',') }), deps);
  const signaling: SignalingService[] = [];
  for (let i = 0; i < (options.signaling ?? 1); i++) {
    signaling.push(await startSignalingService(loadSignalingConfig({ ...common, ...h.natsEnv('signaling') }), deps));
  }
  return {
    meeting,
    participant,
    signaling,
    turn,
    createMeeting: () => createTestMeeting(h.nc, { start: new Date(Date.now() - 60_000), tutorName: 'Tutor', studentName: 'Student' }),
    async stop() {
      await Promise.all(signaling.map((s) => s.stop()));
      await turn?.stop();
      await participant.stop();
      await meeting.stop();
    },
  };
}

/** The secrets a set of Janus nodes shares with the media service. */
export interface JanusSecrets {
  adminSecret: string;
  tokenSecret: string;
  roomAdminKey: string;
}

/** The media service in-process on these Janus nodes, recordings on local disk (`RECORDINGS_DIR`, `RECORDINGS_SIGNING_SECRET` in `overrides`). */
export function startTestMedia(h: Harness, janus: readonly JanusServer[], secrets: JanusSecrets, overrides: Record<string, string>): Promise<MediaService> {
  return startMediaService(
    loadMediaConfig({
      ...h.natsEnv('media'),
      DATABASE_URL: h.postgres!.url,
      HEALTH_PORT: '0',
      LOG_LEVEL: 'silent',
      JANUS_NODES: janus.map((j) => j.nodeSpec).join(','),
      JANUS_ADMIN_SECRET: secrets.adminSecret,
      JANUS_TOKEN_SECRET: secrets.tokenSecret,
      JANUS_ROOM_ADMIN_KEY: secrets.roomAdminKey,
      ...overrides,
    }),
    { telemetry: false },
  );
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are asserted field by field in tests.
  body: any;
  text: string;
}

/**
 * Validates answers against the gateway's own OpenAPI document: the operation (path template
 * and method) must be documented, the status too, and the body must match its schema.
 */
export function openApiChecker(doc: { paths: Record<string, Record<string, unknown>>; components: Record<string, unknown> }) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'https://lessoncall.test/openapi', components: doc.components });
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  return {
    /** Throws with the validation errors when the answer does not match the document. */
    check(method: string, path: string, res: ApiResponse): void {
      const pathname = new URL(path, 'http://x').pathname;
      const matches = templates.filter((t) => t.regex.test(pathname)).sort((a, b) => a.template.split('{').length - b.template.split('{').length);
      const op = matches.map((t) => doc.paths[t.template]?.[method.toLowerCase()]).find(Boolean) as
        | { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }
        | undefined;
      if (!op) throw new Error(`${method} ${pathname} is not in the OpenAPI document`);
      const documented = op.responses[String(res.status)];
      if (!documented) throw new Error(`${method} ${pathname} answered ${res.status}, which the OpenAPI document does not list`);
      // No content: nothing to check beyond the status (a 204 has no body, hence no type).
      if (res.status === 204 && !documented.content) {
        if (res.text !== '') throw new Error(`${method} ${pathname} answered 204 with a body`);
        return;
      }
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
      const media = documented.content?.[type];
      if (!media) throw new Error(`${method} ${pathname} ${res.status} answered ${type}, which the OpenAPI document does not list`);
      const schema = JSON.parse(JSON.stringify(media.schema).replaceAll('"#/components/', '"https://lessoncall.test/openapi#/components/'));
      const validate = ajv.compile(schema);
      const body = type.endsWith('json') ? res.body : res.text;
      if (!validate(body)) throw new Error(`${method} ${pathname} ${res.status} does not match the document: ${ajv.errorsText(validate.errors)}\n${res.text}`);
    },
  };
}

/** fetch, with the JSON parsed; a body object is sent as JSON. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** An RFC 9457 answer with this status and stable code, its request id, and no stack trace. */
export function expectProblem(res: ApiResponse, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe(code);
  expect(res.body.status).toBe(status);
  expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
  expect(res.text).not.toMatch(/\bat .*\.ts:\d+/);
}

/**
 * Postgres, NATS with the permission matrix, the services and two gateway replicas sharing one
 * token secret: for the suites where a user's second tab or another socket sits on the other
 * replica. `stop` closes the sockets pushed to `clients` first.
 */
export interface TwoGatewayStack {
  h: Harness;
  backend: Backend;
  gw: TestGateway;
  gw2: TestGateway;
  checker: ReturnType<typeof openApiChecker>;
  clients: { close(): void }[];
  stop(): Promise<void>;
}

export async function startTwoGatewayStack(options: BackendOptions = {}): Promise<TwoGatewayStack> {
  const h = await setup({ postgres: true });
  const backend = await startBackend(h, options);
  const gw = await startTestGateway(h);
  const gw2 = await startTestGateway(h, { JWT_SECRET: gw.config.JWT_SECRET, GATEWAY_ID: 'gw-two' });
  const checker = openApiChecker((await call(gw.url, 'GET', '/api/video/openapi.json')).body);
  const clients: { close(): void }[] = [];
  return {
    h,
    backend,
    gw,
    gw2,
    checker,
    clients,
    async stop() {
      for (const c of clients) c.close();
      await gw.stop();
      await gw2.stop();
      await backend.stop();
      await h.cleanup();
    },
  };
}
