import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { DeadLetterSchema, eventTypeOf, streams, subjects as subjectNames } from '@lessoncall/proto';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamClient,
  JetStreamApiError,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { errors as natsErrors, headers as natsHeaders, nanos, type NatsConnection } from '@nats-io/nats-core';
import { type CloudEventMeta, readCloudEvent } from './cloudevents';
import { decode, encode } from './codec';
import { type FailureKind, classifyFailure } from './failures';
import type { Logger } from './logger';
import type { Counter } from './metrics';
import { extractTraceContext, SpanKind, withSpan } from './telemetry';

/**
 * JetStream drops a publish whose Nats-Msg-Id (= ce-id) it stored within this window: every
 * stream's duplicate window unless its spec says otherwise. A publisher that re-sends an event
 * for safety may rely on it only inside it.
 */
export const defaultDuplicateWindowMs = 120_000;

export interface StreamSpec {
  name: string;
  subjects: readonly string[];
  /** Duplicate-detection window for Nats-Msg-Id (default `defaultDuplicateWindowMs`, 2 min). */
  duplicateWindowMs?: number;
  maxAgeMs?: number;
  /** Copies across the cluster; undefined keeps an existing stream's count (and creates with 1). */
  replicas?: number;
}

/** Creates the stream, or brings an existing one to this spec; safe on every replica at once. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  await retryWhileJetStreamUnavailable(() => ensureStreamOnce(jsm, spec), { what: `stream ${spec.name}` });
}

async function ensureStreamOnce(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  const config: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    subjects: [...spec.subjects],
    duplicate_window: nanos(spec.duplicateWindowMs ?? defaultDuplicateWindowMs),
    max_age: nanos(spec.maxAgeMs ?? 7 * 24 * 3600_000),
    num_replicas: spec.replicas ?? 1,
  };
  const replicas = spec.replicas;
  try {
    const info = await jsm.streams.info(spec.name);
    const same =
      JSON.stringify([...info.config.subjects].sort()) === JSON.stringify([...config.subjects!].sort()) &&
      info.config.duplicate_window === config.duplicate_window &&
      info.config.max_age === config.max_age &&
      (replicas === undefined || info.config.num_replicas === replicas);
    if (!same) await jsm.streams.update(spec.name, { ...info.config, ...config, num_replicas: replicas ?? info.config.num_replicas });
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

/**
 * JetStream API answers that mean "the cluster cannot answer right now", not "you asked wrong":
 * a request timeout or no responders (the meta leader is being elected, or the server is busy),
 * the server's own "JetStream system temporarily unavailable" (err_code 10008), and "no suitable
 * peers for placement, peer offline" (10005 naming an offline peer: a cluster whose nodes are
 * coming back has its meta leader before the others have reported in — a placement that cannot
 * work for good, as too many replicas, names no offline peer and is thrown at once).
 */
export function isJetStreamUnavailable(err: unknown): boolean {
  if (err instanceof natsErrors.TimeoutError) return true;
  if (err instanceof natsErrors.RequestError && err.isNoResponders()) return true;
  // What nats.js answers for a JetStream request (publish included) that nobody answers; not exported as a class.
  if (err instanceof Error && err.name === 'JetStreamNotEnabled') return true;
  if (err instanceof JetStreamApiError && err.code === 10008) return true;
  if (err instanceof JetStreamApiError && err.code === 10005 && /offline/i.test(err.message)) return true;
  const message = (err as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /temporarily unavailable|no responders/i.test(message);
}

/**
 * Runs a JetStream management call (stream, consumer) again while the cluster cannot answer,
 * for up to `forMs` (default 60 s): a service that starts while a node is lost or the machine is
 * busy waits for JetStream instead of exiting (its /readyz says "starting" meanwhile). Anything
 * else, or a cluster still unavailable past the deadline, is thrown.
 */
export async function retryWhileJetStreamUnavailable<T>(fn: () => Promise<T>, options: { forMs?: number; logger?: Logger; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.forMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = Math.min(250 * 2 ** (attempt - 1), 4_000);
      if (!isJetStreamUnavailable(err) || Date.now() + delay > deadline) throw err;
      options.logger?.warn({ err: (err as Error).message, attempt, retryInMs: delay, what: options.what }, 'JetStream unavailable, trying again');
      await new Promise((r) => setTimeout(r, delay));
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
   * Ignored for the server (max_deliver is unbounded, so that a transient failure retries for
   * as long as the stream keeps the message); the cap for unknown errors is the consumer's
   * `maxDeliver` option. Kept so that existing callers compile.
   */
  maxDeliver?: number;
  /** Redelivery when an ack never comes (a crashed consumer); a failure is naked with its own back-off. */
  ackWaitMs?: number;
  maxAckPending?: number;
}

/** Creates or updates a durable pull consumer with explicit ack and unbounded redelivery. */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  await retryWhileJetStreamUnavailable(() => ensureConsumerOnce(jsm, spec), { what: `consumer ${spec.stream}/${spec.durable}` });
}

async function ensureConsumerOnce(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // Unbounded: the consumer decides when a message is dead (invalid, or an unknown error
    // repeated); a server-side cap would silently drop a message during a long outage. The
    // server refuses a `backoff` list without a max_deliver above its length, so back-off is
    // the consumer's nak(delay), and an update clears a list left by an older version.
    max_deliver: -1,
    backoff: [],
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

export interface RetryPolicy {
  /** Delay before the 2nd delivery; doubles each time… */
  baseMs: number;
  /** …up to this. */
  maxMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { baseMs: 500, maxMs: 30_000 };

/**
 * Capped exponential back-off with "equal jitter": between half and all of
 * min(max, base·2^(n-1)), so that a thousand messages that failed together do not all come
 * back in the same millisecond, and none waits less than half its step.
 */
export function retryDelayMs(delivery: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(30, delivery - 1)));
  return Math.round(step / 2 + (random() * step) / 2);
}

export interface ReceivedEvent<T> {
  subject: string;
  meta: CloudEventMeta;
  body: T;
  msg: JsMsg;
  deliveryCount: number;
}

/** Counters a service registers for its consumers; every one is optional. */
export interface ConsumerMetrics {
  /** Labels subject (event type) and reason (malformed, invalid, exhausted). */
  deadLetters?: Counter<{ subject: string; reason: string }>;
  /** Redeliveries asked for, labels subject and failure (transient, unknown). */
  retries?: Counter<{ subject: string; failure: string }>;
  /** Failed deliveries of messages that have been retrying longer than `retryAlertMs`: alert on its rate. */
  retryingLong?: Counter<{ subject: string }>;
}

export interface ConsumeOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  stream: string;
  durable: string;
  logger: Logger;
  /** Batch of messages pulled at once. */
  batch?: number;
  /** Deliveries before a message that keeps failing with an *unknown* error is dead-lettered (default 5). */
  maxDeliver?: number;
  retry?: RetryPolicy;
  /** A message still failing this long after it was stored counts in `retryingLong` (default 5 min). */
  retryAlertMs?: number;
  deadLetters?: ConsumerMetrics['deadLetters'];
  metrics?: Omit<ConsumerMetrics, 'deadLetters'>;
  random?: () => number;
  /** Resolve the schema of a subject, or undefined to ack and ignore the message. */
  schemaFor: (subject: string) => DescMessage | undefined;
  handle: (event: ReceivedEvent<MessageShape<DescMessage>>) => Promise<void>;
}

export interface RunningConsumer {
  stop(): Promise<void>;
  done: Promise<void>;
}

/** Headers on every message of the DEADLETTER stream (the body is a DeadLetter proto). */
export const deadLetterHeaders = {
  subject: 'Lessoncall-Original-Subject',
  reason: 'Lessoncall-Dead-Letter-Reason',
  error: 'Lessoncall-Dead-Letter-Error',
  deliveries: 'Lessoncall-Deliveries',
  eventId: 'ce-id',
} as const;

type ParkReason = 'malformed' | 'invalid' | 'exhausted';

/**
 * Consumes a durable pull consumer. Each message is decoded, validated and handled, then
 * acked. What happens to a failure depends on its kind (see `classifyFailure`): an invalid
 * message is dead-lettered at once; a transient failure (database or network down) is naked
 * with capped, jittered back-off for as long as it takes; an unknown error is retried
 * `maxDeliver` times, then dead-lettered. Dead letters are stored in the DEADLETTER stream
 * before the original is terminated, so nothing is lost between the two.
 */
export async function consumeEvents(options: ConsumeOptions): Promise<RunningConsumer> {
  const { js, nc, logger } = options;
  await ensureStream(await retryWhileJetStreamUnavailable(() => js.jetstreamManager(), { logger, what: 'JetStream account' }), streams.deadLetters);
  const consumer = await retryWhileJetStreamUnavailable(() => js.consumers.get(options.stream, options.durable), {
    logger,
    what: `consumer ${options.stream}/${options.durable}`,
  });
  // expires 10 s (heartbeats every 5 s) instead of 30 s: when the NATS server holding the pull
  // is lost, two missed heartbeats re-issue it on the others in ≈ 10 s rather than ≈ 60 s
  // (cluster.test.ts loses one). A pull request per 10 s per consumer costs the server nothing.
  const messages = await retryWhileJetStreamUnavailable(() => consumer.consume({ max_messages: options.batch ?? 256, expires: 10_000 }), {
    logger,
    what: `consume ${options.stream}/${options.durable}`,
  });
  const maxDeliver = options.maxDeliver ?? 5;
  const retry = options.retry ?? defaultRetryPolicy;
  const retryAlertMs = options.retryAlertMs ?? 5 * 60_000;
  const random = options.random ?? Math.random;
  const inFlight = new Set<Promise<void>>();

  const retryLater = (m: JsMsg, failure: Exclude<FailureKind, 'invalid'>, err: unknown) => {
    const subject = eventTypeOf(m.subject);
    const delivery = m.info.deliveryCount;
    const ageMs = Date.now() - m.info.timestampNanos / 1e6;
    options.metrics?.retries?.add(1, { subject, failure });
    if (ageMs > retryAlertMs) options.metrics?.retryingLong?.add(1, { subject });
    const delay = retryDelayMs(delivery, retry, random);
    // One line per message per delivery would flood the log during an outage: the first
    // failure and every tenth say so, the metric counts the rest.
    if (delivery === 1 || delivery % 10 === 0) {
      logger.warn({ err: errorText(err), subject: m.subject, delivery, failure, retryInMs: delay }, 'event failed, will be redelivered');
    }
    m.nak(delay);
  };

  /** `kind` labels the metric (a bounded set); the full reason goes in the dead letter and the log. */
  const park = async (m: JsMsg, kind: ParkReason, reason: string) => {
    const original: Record<string, string> = {};
    for (const k of m.headers?.keys() ?? []) original[k] = m.headers?.get(k) ?? '';
    const h = natsHeaders();
    h.set(deadLetterHeaders.subject, m.subject);
    h.set(deadLetterHeaders.reason, kind);
    h.set(deadLetterHeaders.error, oneLine(reason));
    h.set(deadLetterHeaders.deliveries, String(m.info.deliveryCount));
    if (original['ce-id']) h.set(deadLetterHeaders.eventId, original['ce-id']);
    try {
      await js.publish(
        subjectNames.deadLetter(m.subject),
        encode(DeadLetterSchema, {
          subject: m.subject,
          reason,
          headers: original,
          body: m.data,
          deliveries: m.info.deliveryCount,
          failedAt: timestampFromDate(new Date()),
        }),
        // Parking the same stored message twice (a crash between here and term) keeps one copy.
        { headers: h, msgID: `${m.info.stream}:${m.info.streamSequence}` },
      );
    } catch (err) {
      // The dead letter is not stored: keep the original and try again later.
      logger.error({ err: errorText(err), subject: m.subject }, 'dead letter could not be stored, will be redelivered');
      m.nak(retryDelayMs(m.info.deliveryCount, retry, random));
      return;
    }
    options.deadLetters?.add(1, { subject: eventTypeOf(m.subject), reason: kind });
    logger.warn({ subject: m.subject, reason, kind, deliveries: m.info.deliveryCount }, 'event dead-lettered');
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
          event = { subject: m.subject, meta, body: decode(schema, m.data), msg: m, deliveryCount: m.info.deliveryCount };
        } catch (err) {
          await park(m, 'malformed', errorText(err));
          return;
        }
        try {
          await options.handle(event);
          m.ack();
        } catch (err) {
          const failure = classifyFailure(err);
          if (failure === 'invalid') await park(m, 'invalid', errorText(err));
          else if (failure === 'unknown' && m.info.deliveryCount >= maxDeliver) await park(m, 'exhausted', `failed ${maxDeliver} times: ${errorText(err)}`);
          else retryLater(m, failure, err);
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

function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return `${err.message || 'several errors'}: ${errorText(err.errors[0])}`;
  return err instanceof Error ? err.message || err.name : String(err);
}

/** Header values are one line; a long error is cut, the dead letter's body keeps it whole. */
function oneLine(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** NATS subject matching: `*` is one token, a final `>` is one or more. */
function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const t = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length || (p[i] !== '*' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/** One message of the DEADLETTER stream, as `npm run deadletter -- list` shows it. */
export interface DeadLetterEntry {
  /** Sequence in the DEADLETTER stream: what `--id` names. */
  seq: number;
  subject: string;
  eventId: string;
  reason: string;
  error: string;
  deliveries: number;
  failedAt: Date | undefined;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface DeadLetterFilter {
  /** Original subject, wildcards allowed (`booking.>`). */
  subject?: string;
  /** A dead letter's stream sequence or the event's ce-id. */
  id?: string;
}

/** Reads the dead letters that match, oldest first, without consuming them. */
export async function listDeadLetters(js: JetStreamClient, filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
  const jsm = await js.jetstreamManager();
  await ensureStream(jsm, streams.deadLetters);
  const filterSubject = subjectNames.deadLetter(filter.subject ?? '>');
  const info = await jsm.streams.info(streams.deadLetters.name);
  const entries: DeadLetterEntry[] = [];
  if (info.state.messages === 0) return entries;
  // Read by sequence rather than through a consumer: an operator's listing leaves nothing
  // behind on the server, and a dead-letter stream is small.
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    let m: Awaited<ReturnType<typeof jsm.streams.getMessage>>;
    try {
      m = await jsm.streams.getMessage(streams.deadLetters.name, { seq });
    } catch (err) {
      if (isNotFound(err) || /no message found/i.test(String((err as Error).message))) continue; // replayed already
      throw err;
    }
    if (!m) continue; // replayed already (nats.js answers null for a deleted sequence)
    if (!subjectMatches(filterSubject, m.subject)) continue;
    const letter = decode(DeadLetterSchema, m.data);
    entries.push({
      seq,
      subject: letter.subject,
      eventId: letter.headers['ce-id'] ?? '',
      reason: m.header?.get(deadLetterHeaders.reason) || 'unknown',
      error: letter.reason,
      deliveries: letter.deliveries,
      failedAt: letter.failedAt ? timestampDate(letter.failedAt) : undefined,
      headers: letter.headers,
      body: letter.body,
    });
  }
  return entries.filter((e) => !filter.id || String(e.seq) === filter.id || e.eventId === filter.id);
}

/**
 * Republishes each matching dead letter to its original subject with its original headers,
 * then removes it from DEADLETTER. Nats-Msg-Id is `replay:<dead letter seq>`, so a replay that
 * is interrupted and run again within the duplicate window publishes once; past the window the
 * consumers' own idempotence (ce-id, unique booking ids) absorbs a second copy.
 */
export async function replayDeadLetters(js: JetStreamClient, filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
  const jsm = await js.jetstreamManager();
  const replayed: DeadLetterEntry[] = [];
  for (const entry of await listDeadLetters(js, filter)) {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(entry.headers)) if (k.toLowerCase() !== 'nats-msg-id') h.set(k, v);
    await js.publish(entry.subject, entry.body, { headers: h, msgID: `replay:${entry.seq}` });
    await jsm.streams.deleteMessage(streams.deadLetters.name, entry.seq, false);
    replayed.push(entry);
  }
  return replayed;
}
