import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { DeadLetterSchema, subjects as subjectNames } from '@lessoncall/proto';
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
  /** Deliveries before a message is parked as dead letter (default 5). */
  maxDeliver?: number;
  /** Redelivery back-off, one entry per retry (default 0.5 s, 2 s, 5 s, 10 s). */
  backoffMs?: number[];
  ackWaitMs?: number;
  maxAckPending?: number;
}

/** Creates or updates a durable pull consumer with explicit ack and bounded redelivery. */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const backoff = spec.backoffMs ?? [500, 2_000, 5_000, 10_000];
  const maxDeliver = spec.maxDeliver ?? 5;
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_deliver: maxDeliver,
    backoff: backoff.slice(0, Math.max(1, maxDeliver - 1)).map((ms) => nanos(ms)),
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
  /** Deliveries before a failing message is parked (must match the consumer's max_deliver). */
  maxDeliver?: number;
  deadLetters?: Counter<string>;
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
 * acked. A message that can never succeed (malformed, invalid_request) goes straight to the
 * dead-letter subject; one that keeps failing is naked with back-off and parked after
 * maxDeliver attempts. Either way the stream moves on.
 */
export async function consumeEvents(options: ConsumeOptions): Promise<RunningConsumer> {
  const { js, nc, logger } = options;
  const consumer = await js.consumers.get(options.stream, options.durable);
  const messages = await consumer.consume({ max_messages: options.batch ?? 256 });
  const maxDeliver = options.maxDeliver ?? 5;
  const inFlight = new Set<Promise<void>>();

  /** `kind` labels the metric (a bounded set); the full reason goes in the dead letter and the log. */
  const park = async (m: JsMsg, kind: 'malformed' | 'invalid' | 'exhausted', reason: string) => {
    const hdrs: Record<string, string> = {};
    for (const k of m.headers?.keys() ?? []) hdrs[k] = m.headers?.get(k) ?? '';
    options.deadLetters?.inc({ subject: eventTypeOf(m.subject), reason: kind });
    logger.warn({ subject: m.subject, reason, deliveries: m.info.redeliveryCount }, 'event dead-lettered');
    nc.publish(
      subjectNames.deadLetter(m.subject),
      encode(DeadLetterSchema, {
        subject: m.subject,
        reason,
        headers: hdrs,
        body: m.data,
        deliveries: m.info.redeliveryCount,
        failedAt: timestampFromDate(new Date()),
      }),
    );
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
          if (err instanceof ServiceError && err.code === 'invalid_request') {
            await park(m, 'invalid', err.message);
          } else if (m.info.redeliveryCount >= maxDeliver) {
            await park(m, 'exhausted', `failed ${maxDeliver} times: ${(err as Error).message}`);
          } else {
            logger.warn({ err, subject: m.subject, delivery: m.info.redeliveryCount }, 'event failed, will be redelivered');
            m.nak(Math.min(10_000, 500 * 2 ** (m.info.redeliveryCount - 1)));
          }
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
