import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, type NatsConnection, headers as natsHeaders, nkeyAuthenticator, type Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { cloudEventHeaders } from './cloudevents';
import { encode } from './codec';
import { isJetStreamUnavailable } from './jetstream';
import type { Logger } from './logger';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { injectTraceContext, SpanKind, withSpan } from './telemetry';

export type { JetStreamClient, JetStreamManager, Msg, MsgHdrs, NatsConnection, Subscription };

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
      if (s.type === 'disconnect' || s.type === 'reconnect') logger.warn({ nats: s.type, server: s.server }, `nats ${s.type}`);
      else if (s.type === 'error') logger.warn({ nats: s.type, err: s.error }, `nats ${s.type}`);
    }
  })().catch(() => {});
  logger.info({ server: nc.getServer() }, 'connected to NATS');
  return nc;
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
    await publishAcked(js, subject, encode(schema, body), h, options.retryForMs);
  });
}

/**
 * A JetStream publish with its ce-id as Nats-Msg-Id, sent again while the stream cannot answer
 * (a leader election), for up to `retryForMs` (default 10 s). What publishEvent and the outbox
 * both publish with.
 */
export async function publishAcked(js: JetStreamClient, subject: string, data: Uint8Array, headers: MsgHdrs, retryForMs = 10_000): Promise<void> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      await js.publish(subject, data, { headers, msgID: headers.get('ce-id') });
      return;
    } catch (err) {
      // No responders: the stream has no leader right now. A timeout: the leader went away with
      // the publish unanswered — it may be stored, and sending it again is safe because
      // Nats-Msg-Id (= ce-id) makes the stream drop the duplicate.
      if (!isJetStreamUnavailable(err) || Date.now() + publishRetryDelayMs > deadline) throw err;
      await new Promise((r) => setTimeout(r, publishRetryDelayMs));
    }
  }
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
