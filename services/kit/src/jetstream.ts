import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { DeadLetterSchema, streams, subjects as subjectNames } from '@lessoncall/proto';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  nanos,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { type CloudEventMeta, readCloudEvent } from './cloudevents';
import { decode, encode } from './codec';
import { ServiceError } from './errors';
import type { Logger } from './logger';
import type { Counter } from './metrics';
import { extractTraceContext, SpanKind, withSpan } from './telemetry';
import { eventTypeOf } from '@lessoncall/proto';

export interface StreamSpec {
  name: string;
  subjects: readonly string[];
  /** Duplicate-detection window for Nats-Msg-Id (default 2 min). */
  duplicateWindowMs?: number;
  maxAgeMs?: number;
  replicas?: number;
}

/** Creates the stream, or brings an existing one to this spec; safe on every replica at once. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  const config: Partial<StreamConfig> = {
    name: spec.name,
    subjects: [...spec.subjects],
    duplicate_window: nanos(spec.duplicateWindowMs ?? 120_000),
    max_age: nanos(spec.maxAgeMs ?? 7 * 24 * 3600_000),
    num_replicas: spec.replicas ?? 1,
  };
  try {
    const info = await jsm.streams.info(spec.name);
    const same =
      JSON.stringify([...info.config.subjects].sort()) === JSON.stringify([...config.subjects!].sort()) &&
      info.config.duplicate_window === config.duplicate_window &&
      info.config.max_age === config.max_age;
    if (!same) await jsm.streams.update(spec.name, { ...info.config, ...config });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another replica created it between our info and add.
      if (!/already in use|exists/i.test(String((addErr as Error).message))) throw addErr;
    }
  }
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(String((err as Error)?.message));
}

export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject?: string;
  /**
   * How long a delivered message may go unacknowledged before it is redelivered (its consumer
   * died holding it). A failure the handler saw is naked with its own back-off instead (see
   * consumeEvents). JetStream's `backoff` would need a delivery limit, which there is none of.
   */
  ackWaitMs?: number;
  maxAckPending?: number;
}

/**
 * Creates or updates a durable pull consumer with explicit ack and no delivery limit: an event
 * leaves the stream only acked (done), or terminated after it was parked in DEADLETTER.
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_deliver: -1,
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    max_ack_pending: spec.maxAckPending ?? 1_000,
    ...(spec.filterSubject ? { filter_subject: spec.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    await jsm.consumers.update(spec.stream, spec.durable, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(spec.stream, config);
    } catch (addErr) {
      if (!/already (in use|exists)/i.test(String((addErr as Error).message))) throw addErr;
    }
  }
}

/** The DEADLETTER stream: kept a month, for an operator to read and replay. */
export function ensureDeadLetterStream(jsm: JetStreamManager): Promise<void> {
  return ensureStream(jsm, { ...streams.deadLetters, maxAgeMs: 30 * 24 * 3600_000 });
}

/**
 * Whether a failure can never succeed on retry: the event itself is wrong (a ServiceError of
 * the 4xx kind: invalid_request, conflict, forbidden, …). Anything else — a database or a
 * service that is down, a timeout, a bug that a deploy will fix — may pass, and is retried.
 */
export function isPermanentFailure(err: unknown): boolean {
  return err instanceof ServiceError && err.status < 500;
}

/** The wait before attempt `delivery + 1`: doubling from 0.5 s, capped, with "equal jitter" so a recovered database is not hit by every event at once. */
export function retryDelayMs(delivery: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, 500 * 2 ** Math.min(30, Math.max(0, delivery - 1)));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface ReceivedEvent<T> {
  subject: string;
  meta: CloudEventMeta;
  body: T;
  msg: JsMsg;
  deliveryCount: number;
}

export interface ConsumeOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  stream: string;
  durable: string;
  logger: Logger;
  /** Batch of messages pulled at once. */
  batch?: number;
  /** How failures that may pass are retried (kit's eventRetry config). */
  retry?: { maxDelayMs: number; alertAfter: number };
  /** Events parked in DEADLETTER, by subject (event type) and reason (malformed, invalid). */
  deadLetters?: Counter<string>;
  /** Failed attempts that will be retried, by subject (event type), and events past `alertAfter` (stuck). */
  retries?: Counter<string>;
  /** Resolve the schema of a subject, or undefined to ack and ignore the message. */
  schemaFor: (subject: string) => DescMessage | undefined;
  handle: (event: ReceivedEvent<MessageShape<DescMessage>>) => Promise<void>;
}

export interface RunningConsumer {
  stop(): Promise<void>;
  done: Promise<void>;
}

/**
 * Consumes a durable pull consumer. Each message is decoded, validated and handled, then
 * acked. A message that can never succeed (malformed, or a permanent failure such as
 * invalid_request) is parked in the DEADLETTER stream — stored and acknowledged there before
 * it leaves its own stream — and counted. Every other failure is retried with a capped,
 * jittered back-off for as long as it takes: a database down for an hour loses no booking.
 * Either way the stream moves on.
 */
export async function consumeEvents(options: ConsumeOptions): Promise<RunningConsumer> {
  const { js, nc, logger } = options;
  await ensureDeadLetterStream(await nc.jetstreamManager());
  const consumer = await js.consumers.get(options.stream, options.durable);
  const messages = await consumer.consume({ max_messages: options.batch ?? 256 });
  const retry = options.retry ?? { maxDelayMs: 30_000, alertAfter: 20 };
  const inFlight = new Set<Promise<void>>();

  /** `kind` labels the metric (a bounded set); the full reason goes in the dead letter and the log. */
  const park = async (m: JsMsg, kind: 'malformed' | 'invalid', reason: string) => {
    const hdrs: Record<string, string> = {};
    for (const k of m.headers?.keys() ?? []) hdrs[k] = m.headers?.get(k) ?? '';
    const body = encode(DeadLetterSchema, {
      subject: m.subject,
      reason,
      headers: hdrs,
      body: m.data,
      deliveries: m.info.redeliveryCount,
      failedAt: timestampFromDate(new Date()),
    });
    try {
      // Stored before the original is let go; the id makes a second parking of the same message a no-op.
      await js.publish(subjectNames.deadLetter(m.subject), body, { msgID: `dl:${m.info.stream}:${m.info.streamSequence}` });
    } catch (err) {
      logger.error({ err, subject: m.subject }, 'could not park the event in DEADLETTER; it will be tried again');
      m.nak(retryDelayMs(m.info.redeliveryCount, retry.maxDelayMs));
      return;
    }
    options.deadLetters?.inc({ subject: eventTypeOf(m.subject), reason: kind });
    logger.warn({ subject: m.subject, reason, kind, deliveries: m.info.redeliveryCount }, 'event dead-lettered');
    m.term();
  };

  const process = async (m: JsMsg) => {
    const schema = options.schemaFor(m.subject);
    if (!schema) {
      m.ack();
      return;
    }
    await withSpan(
      `consume ${eventTypeOf(m.subject)}`,
      { kind: SpanKind.CONSUMER, parent: extractTraceContext(m.headers), attributes: { 'messaging.destination.name': m.subject } },
      async () => {
        let event: ReceivedEvent<MessageShape<DescMessage>>;
        try {
          const meta = readCloudEvent(m.headers, eventTypeOf(m.subject));
          event = { subject: m.subject, meta, body: decode(schema, m.data), msg: m, deliveryCount: m.info.redeliveryCount };
        } catch (err) {
          await park(m, 'malformed', (err as Error).message);
          return;
        }
        try {
          await options.handle(event);
          m.ack();
        } catch (err) {
          if (isPermanentFailure(err)) {
            await park(m, 'invalid', (err as Error).message);
            return;
          }
          const delivery = m.info.redeliveryCount;
          options.retries?.inc({ subject: eventTypeOf(m.subject), state: delivery >= retry.alertAfter ? 'stuck' : 'retrying' });
          const log = { err, subject: m.subject, delivery };
          if (delivery === retry.alertAfter) logger.error(log, `event still failing after ${delivery} deliveries; retrying until it succeeds`);
          else logger.warn(log, 'event failed; retrying');
          m.nak(retryDelayMs(delivery, retry.maxDelayMs));
        }
      },
    );
  };

  // When the connection closes under the consumer, end the iteration instead of waiting forever.
  void nc.closed().then(() => messages.stop());
  const done = (async () => {
    try {
      for await (const m of messages) {
        const p = process(m).catch((err) => logger.error({ err }, 'consumer crashed on a message'));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        // Bounded parallelism: the batch size is the concurrency limit.
        if (inFlight.size >= (options.batch ?? 256)) await Promise.race(inFlight);
      }
    } catch (err) {
      // The iterator throws when the connection closes under it (the process is going away);
      // unacked messages are redelivered to whoever consumes next. Never an unhandled rejection.
      if (nc.isClosed()) logger.warn({ err, durable: options.durable }, 'consumer stopped: connection closed');
      else logger.error({ err, durable: options.durable }, 'consumer stopped');
    }
    await Promise.all(inFlight);
  })();

  return {
    done,
    async stop() {
      await messages.close();
      await done;
    },
  };
}
