import { type IncomingMessage, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { type Runtime, ServiceError } from '@lessoncall/kit';
import { isSubjectToken } from '@lessoncall/proto';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { TokenVerifier } from '../auth/index';
import type { Revocations } from '../auth/revocations';
import { clientAddress, parseTrustedProxies } from '../client-address';
import type { GatewayConfig } from '../config';
import { problemOf } from '../rest/problem';
import { MeetingHub } from './meeting-hub';
import { UpgradeLimiter } from './upgrade-limit';
import { createWsMetrics } from './metrics';
import { SignalOutbox } from './outbox';
import { PresenceReporter } from './presence';
import type { Now } from './rate-limit';
import { SignalRouter } from './router';
import { Session, type WsContext } from './session';
import { serviceClients } from '../services';

export const wsPath = '/api/video/ws';

export interface AttachWebSocketOptions {
  server: Server;
  config: GatewayConfig;
  runtime: Runtime;
  verifier: TokenVerifier;
  /** Sign-outs: the sockets opened with a signed-out token close. */
  revocations?: Pick<Revocations, 'isRevoked' | 'onRevoked'>;
  /** Milliseconds; injectable for tests of rate limits. */
  now?: Now;
  /** Drain's reconnect spread; injectable so a test can pin it. */
  random?: () => number;
}

export interface WebSocketGateway {
  /**
   * Stop accepting sockets, tell every socket to reconnect elsewhere (after a random spread)
   * and close it with 1012, then wait for them to go, at most `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Open sockets on this process. */
  sockets(): number;
  /**
   * Resolves once every socket this process began to close has closed (its close handled) and
   * every presence report queued by then has been answered: what tests wait on to prove that
   * a close reported nothing, instead of sleeping.
   */
  settled(): Promise<void>;
}

/**
 * The signaling WebSocket on the gateway's HTTP server, at /api/video/ws. The access token
 * travels in the first message (`hello`), never in the URL, where proxies would log it.
 */
export function attachWebSocket(options: AttachWebSocketOptions): WebSocketGateway {
  const { server, config, runtime, verifier } = options;
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  const logger = runtime.logger.child({ component: 'ws' });
  const all = new Set<Session>();
  const hub = new MeetingHub(runtime.nc, logger, {
    tombstoneTtlMs: config.SIGNAL_TOMBSTONE_TTL_MS,
    recheckMinMs: config.SIGNAL_ROSTER_RECHECK_MS,
    timeoutMs: config.REQUEST_TIMEOUT_MS,
  });
  let natsUp = true;
  void (async () => {
    for await (const s of runtime.nc.status()) {
      if (s.type === 'disconnect') natsUp = false;
      if (s.type === 'reconnect') {
        natsUp = true;
        // Whatever was published while we were away is lost to core subscriptions.
        hub.forgetAll();
      }
    }
  })().catch(() => {});
  const sessions = new Map<string, Session>();
  const metrics = createWsMetrics(runtime.metrics.meter, { sockets: () => all.size, sessions: () => sessions.size, meetings: () => hub.meetings });
  const presence = new PresenceReporter({
    nc: runtime.nc,
    gatewayId: config.GATEWAY_ID,
    timeoutMs: config.REQUEST_TIMEOUT_MS,
    concurrency: config.WS_PRESENCE_CONCURRENCY,
    logger,
    onFailure: (state) => metrics.presenceFailures.add(1, { state }),
  });
  const router = new SignalRouter({
    config,
    hub,
    outbox: new SignalOutbox(runtime.nc, config.SIGNAL_QUEUE_MAX),
    sessions,
    metrics,
    now,
    connected: () => natsUp && !runtime.nc.isClosed(),
  });
  const ctx: WsContext = {
    config,
    nc: runtime.nc,
    services: serviceClients(runtime.nc, config.REQUEST_TIMEOUT_MS),
    logger,
    verifier,
    hub,
    presence,
    router,
    metrics,
    sessions,
    now,
  };
  const allowedOrigins = new Set(
    config.WEB_ORIGIN.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  );
  // Frames between WS_MAX_MESSAGE_BYTES and this get a message_too_large error; above it ws closes with 1009.
  const abuseBytes = config.WS_ABUSE_MESSAGE_BYTES ?? config.WS_MAX_MESSAGE_BYTES * 4;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: Math.max(abuseBytes, config.WS_MAX_MESSAGE_BYTES),
    perMessageDeflate: false,
    // We validate UTF-8 ourselves: a bad byte sequence is an invalid_request, not a 1007 close.
    skipUTF8Validation: true,
    clientTracking: false,
  });
  let draining = false;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXY_CIDRS);
  const upgrades = new UpgradeLimiter({
    perMinute: config.WS_UPGRADES_PER_MINUTE,
    burst: config.WS_UPGRADE_BURST,
    maxOpen: config.WS_MAX_SOCKETS_PER_CLIENT,
    now,
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const { path, routeMeetingId } = upgradeTarget(req.url);
    if (path !== wsPath) return refuse(404, 'Not Found');
    if (draining) return refuse(503, 'Service Unavailable');
    // ?meeting= is the ingress's routing key (both sides of a lesson on one gateway); hello must name the same meeting.
    if (routeMeetingId === undefined) {
      metrics.upgradesRefused.add(1, { reason: 'invalid' });
      return refuseWithProblem(socket, new ServiceError('invalid_request', 'the meeting query parameter is not a valid meeting id', { field: 'meeting' }));
    }
    const origin = req.headers.origin;
    if (allowedOrigins.size > 0 && origin !== undefined && !allowedOrigins.has(origin)) return refuse(403, 'Forbidden');
    const client = clientAddress(req, trusted);
    const refusal = upgrades.admit(client);
    if (refusal) {
      metrics.upgradesRefused.add(1, { reason: refusal.reason });
      const detail =
        refusal.reason === 'rate'
          ? `more than ${config.WS_UPGRADES_PER_MINUTE} WebSocket connections per minute from this address`
          : `more than ${config.WS_MAX_SOCKETS_PER_CLIENT} WebSockets open from this address`;
      return refuseWithProblem(socket, new ServiceError('rate_limited', detail, { retryAfterSeconds: refusal.retryAfterSeconds }));
    }
    let counted = true;
    const release = () => {
      if (counted) upgrades.closed(client);
      counted = false;
    };
    // A handshake that fails (bad key, the peer gone) never reaches accept: its slot is freed here.
    socket.once('close', release);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once('close', release);
      accept(ws, client, routeMeetingId);
    });
  });

  // A sign-out on any gateway reaches this one through the revocation bucket's watch.
  options.revocations?.onRevoked(() => {
    for (const s of all) if (s.identity && options.revocations?.isRevoked(s.identity)) s.signedOut();
  });

  function accept(ws: WebSocket, clientKey: string, routeMeetingId: string): void {
    const session = new Session(ws, clientKey, ctx, routeMeetingId);
    all.add(session);
    ws.on('message', (data: RawData) => session.onMessage(toBuffer(data)));
    ws.on('pong', () => {
      session.alive = true;
    });
    // ws reports protocol violations (frames over maxPayload, bad opcodes) here and then closes.
    ws.on('error', (err) => {
      metrics.closed.add(1, { reason: 'protocol_error' });
      logger.debug({ err: err.message, meetingId: session.meetingId || undefined, sessionId: session.sessionId || undefined }, 'socket error');
    });
    ws.on('close', (code) => {
      all.delete(session);
      session.onClose(code);
    });
  }

  // One timer for every socket: ping, drop what did not answer the last ping, and report
  // heartbeats of live sessions every WS_PRESENCE_INTERVAL_MS through the presence queue.
  const heartbeat = setInterval(() => {
    const t = now();
    for (const s of all) {
      if (!s.alive) {
        s.terminate('heartbeat_timeout');
        continue;
      }
      s.alive = false;
      s.ws.ping();
      if (s.state === 'joined' && t - s.lastPresenceAt >= config.WS_PRESENCE_INTERVAL_MS) {
        s.lastPresenceAt = t;
        void presence.report(s.meetingId, s.sessionId, 'heartbeat').then((live) => {
          if (live === false) s.gone();
        });
      }
    }
    upgrades.sweep();
  }, config.WS_HEARTBEAT_MS);
  heartbeat.unref();

  return {
    sockets: () => all.size,
    async settled() {
      while ([...all].some((s) => s.closing)) await sleep(5);
      await presence.idle();
    },
    async drain(timeoutMs) {
      if (draining) return;
      draining = true;
      clearInterval(heartbeat);
      const deadline = Date.now() + timeoutMs;
      // The last quarter of the time is for the presence reports of the sockets that closed.
      const socketsDeadline = Date.now() + Math.floor(timeoutMs * 0.75);
      const sockets = [...all];
      logger.info({ sockets: sockets.length }, 'draining websockets');
      // Tell every client at once, so they start moving now; the random delay spreads their
      // reconnects over the other replicas.
      const spread = Math.min(config.WS_RECONNECT_SPREAD_MS, Math.floor(timeoutMs / 2));
      for (const s of sockets) s.sendReconnect(Math.floor(random() * spread));
      while (all.size > 0 && Date.now() < socketsDeadline) await sleep(20);
      for (const s of all) s.terminate('drain_timeout');
      await sleep(0);
      // Decision: a drained session IS reported disconnected, like any socket that closes
      // without `leave` (each close above queued its report). The participant service's grace
      // period covers the move: the client resumes on another replica within it (same session)
      // and a client that never comes back is timed out after the grace instead of staying
      // "connected" with no socket. A report that reaches the participant service after the
      // resume elsewhere is ignored there: the session's gateway_id is no longer this replica's.
      // Wait for the reports to go out before NATS is closed.
      await Promise.race([presence.idle(), sleep(Math.max(0, deadline - Date.now()))]);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** An upgrade refused as HTTP, with the same problem+json body REST answers. */
function refuseWithProblem(socket: Duplex, error: ServiceError): void {
  const problem = problemOf(error, randomUUID(), wsPath);
  const body = JSON.stringify(problem);
  const retryAfter = problem.retryAfterSeconds === undefined ? '' : `Retry-After: ${Math.max(1, Math.ceil(problem.retryAfterSeconds))}\r\n`;
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\nContent-Type: application/problem+json\r\n${retryAfter}` +
      `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * The upgrade's path, and its `meeting` query parameter: '' when absent, undefined when it is
 * not one meeting id.
 */
function upgradeTarget(url = ''): { path: string; routeMeetingId: string | undefined } {
  const q = url.indexOf('?');
  if (q === -1) return { path: url, routeMeetingId: '' };
  const path = url.slice(0, q);
  const values = new URLSearchParams(url.slice(q + 1)).getAll('meeting');
  if (values.length === 0) return { path, routeMeetingId: '' };
  const [value] = values;
  return { path, routeMeetingId: values.length === 1 && value !== undefined && isSubjectToken(value) ? value : undefined };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
