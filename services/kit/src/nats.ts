import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { ServiceErrorSchema } from '@lessoncall/proto';
import {
  connect,
  ErrorCode as NatsErrorCode,
  headers as natsHeaders,
  type JetStreamClient,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NatsError,
  nkeyAuthenticator,
  type Subscription,
} from 'nats';
import { cloudEventHeaders } from './cloudevents';
import { decode, encode } from './codec';
import { ServiceError, ServiceUnavailableError } from './errors';
import type { Logger } from './logger';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { extractTraceContext, injectTraceContext, SpanKind, withSpan } from './telemetry';

export type { JetStreamClient, Msg, MsgHdrs, NatsConnection, Subscription };

export interface NatsOptions {
  url: string;
  name: string;
  logger: Logger;
  /** User nkey seed; the server's permission matrix decides what this connection may do. */
  nkeySeed?: string | undefined;
  /** Where replies land; must be the role's own prefix or the server refuses the subscription. */
  inboxPrefix?: string | undefined;
  /** PEM file of the CA the server's certificate must chain to; set, the connection is TLS or nothing. */
  tlsCaFile?: string | undefined;
}

/** Connects and keeps reconnecting forever; a service never gives up on its bus. */
export async function connectNats({ url, name, logger, nkeySeed, inboxPrefix, tlsCaFile }: NatsOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(','),
    name,
    ...(tlsCaFile ? { tls: { caFile: tlsCaFile } } : {}),
    ...(nkeySeed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(nkeySeed)) } : {}),
    ...(inboxPrefix ? { inboxPrefix } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // nats.js otherwise builds two Error stacks per request (~8% of the gateway's CPU under load);
    // `request` maps timeouts and no-responders to ServiceUnavailableError with the subject anyway.
    noAsyncTraces: true,
  });
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        logger.warn({ nats: s.type, data: String(s.data) }, `nats ${s.type}`);
      }
    }
  })().catch(() => {});
  logger.info({ server: nc.getServer() }, 'connected to NATS');
  return nc;
}

export interface RequestOptions {
  timeoutMs: number;
}

/**
 * Typed request/reply. An error reply becomes a ServiceError with its code; nobody
 * listening or no answer in time becomes ServiceUnavailableError — never a hang.
 */
export async function request<I extends DescMessage, O extends DescMessage>(
  nc: NatsConnection,
  subject: string,
  reqSchema: I,
  body: MessageInitShape<I>,
  resSchema: O,
  options: RequestOptions,
): Promise<MessageShape<O>> {
  return withSpan(`request ${subject}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.destination.name': subject } }, async () => {
    const h = natsHeaders();
    injectTraceContext(h);
    let reply: Msg;
    try {
      reply = await nc.request(subject, encode(reqSchema, body), { timeout: options.timeoutMs, headers: h });
    } catch (err) {
      if (err instanceof NatsError) {
        if (err.code === NatsErrorCode.NoResponders) throw new ServiceUnavailableError(subject, 'no_responders', { cause: err });
        if (err.code === NatsErrorCode.Timeout) throw new ServiceUnavailableError(subject, 'timeout', { cause: err });
        if (err.code === NatsErrorCode.ConnectionClosed || err.code === NatsErrorCode.Disconnect) {
          throw new ServiceUnavailableError(subject, 'disconnected', { cause: err });
        }
      }
      throw err;
    }
    if (reply.headers?.get('Nats-Service-Error-Code')) {
      throw ServiceError.fromMessage(decode(ServiceErrorSchema, reply.data), subject);
    }
    return decode(resSchema, reply.data);
  });
}

export interface ServeOptions<I extends DescMessage, O extends DescMessage> {
  subject: string;
  queue: string;
  request: I;
  response: O;
  logger: Logger;
  handler: (req: MessageShape<I>, msg: Msg) => Promise<MessageInitShape<O>>;
}

/**
 * Answers typed requests in a queue group. A ServiceError is answered with its code
 * (Nats-Service-Error-Code carries the HTTP-like status, the body the string code); any
 * other throw is logged and answered as `internal` without details.
 */
export function serve<I extends DescMessage, O extends DescMessage>(nc: NatsConnection, options: ServeOptions<I, O>): Subscription {
  const { subject, queue, logger } = options;
  return nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) {
        logger.error({ err, subject }, 'subscription error');
        return;
      }
      void withSpan(
        `handle ${subject}`,
        { kind: SpanKind.SERVER, parent: extractTraceContext(msg.headers), attributes: { 'messaging.destination.name': subject } },
        async () => {
          try {
            const req = decode(options.request, msg.data);
            const res = await options.handler(req, msg);
            msg.respond(encode(options.response, res));
          } catch (e) {
            respondError(msg, e, logger);
          }
        },
      );
    },
  });
}

export function respondError(msg: Msg, e: unknown, logger: Logger): void {
  const error = e instanceof ServiceError ? e : new ServiceError('internal', 'internal error');
  if (!(e instanceof ServiceError)) logger.error({ err: e, subject: msg.subject }, 'handler failed');
  // No status on the header line: nats.js reads a 503 status as "no responders".
  const h = natsHeaders();
  h.set('Nats-Service-Error-Code', String(error.status));
  h.set('Nats-Service-Error', error.code);
  if (msg.reply) msg.respond(encode(ServiceErrorSchema, error.toMessage()), { headers: h });
}

export interface PublishOptions {
  /** CloudEvents id; defaults to a random UUID. A deterministic id makes retries idempotent. */
  id?: string;
  source: string;
  time?: Date;
  /**
   * How long to keep retrying while no server answers for the stream (503 "no responders", or a
   * timeout): what a cluster shows while it elects a new stream leader after losing one.
   * Default 10 s (elections on a loaded 2-core machine took over 4 s); 0: fail at once.
   */
  retryForMs?: number;
}

const publishRetryDelayMs = 250;

/** Publishes an event as a CloudEvent to JetStream (acknowledged by the stream). */
export async function publishEvent<D extends DescMessage>(
  js: JetStreamClient,
  subject: string,
  schema: D,
  body: MessageInitShape<D>,
  options: PublishOptions,
): Promise<void> {
  await withSpan(`publish ${subject}`, { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': subject } }, async () => {
    const h = cloudEventHeaders(subject, options.source, options);
    injectTraceContext(h);
    const data = encode(schema, body);
    const deadline = Date.now() + (options.retryForMs ?? 10_000);
    for (;;) {
      try {
        await js.publish(subject, data, { headers: h, msgID: h.get('ce-id') });
        return;
      } catch (err) {
        // No responders: the stream has no leader right now. A timeout: the leader went away with
        // the publish unanswered — it may be stored, and sending it again is safe because
        // Nats-Msg-Id (= ce-id) makes the stream drop the duplicate.
        const code = (err as { code?: string }).code;
        if ((code !== '503' && code !== 'TIMEOUT') || Date.now() + publishRetryDelayMs > deadline) throw err;
        await new Promise((r) => setTimeout(r, publishRetryDelayMs));
      }
    }
  });
}

/** Publishes a core NATS message carrying the trace context (signaling traffic). */
export function publishCore<D extends DescMessage>(nc: NatsConnection, subject: string, schema: D, body: MessageInitShape<D>): void {
  publishBytes(nc, subject, encode(schema, body));
}

/**
 * Publishes bytes already encoded, with the active trace context when there is one. Without
 * one no header block is sent at all: for a relay of thousands of messages a second, headers
 * that say nothing are a cost on both ends.
 */
export function publishBytes(nc: NatsConnection, subject: string, data: Uint8Array | string): void {
  const span = trace.getActiveSpan();
  if (!span || !isSpanContextValid(span.spanContext())) {
    nc.publish(subject, data);
    return;
  }
  const h = natsHeaders();
  injectTraceContext(h);
  nc.publish(subject, data, { headers: h });
}
