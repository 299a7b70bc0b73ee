import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Batcher } from './batcher';
import { publishAcked } from './nats';
import { cloudEventHeaders } from './cloudevents';
import { toJson } from './codec';
import type { Db, Tx } from './db';
import type { Logger } from './logger';
import { injectTraceContext, SpanKind, withSpan } from './telemetry';

/**
 * An event on its way out. Its id is deterministic (`meeting.created:<meetingId>`,
 * `participant.left:<sessionId>`, …), so publishing it twice is dropped by JetStream's
 * duplicate window.
 */
export interface OutboxEvent {
  id: string;
  meetingId: string;
  subject: string;
  /** proto3 JSON, exactly as published. */
  body: string;
  time: Date;
}

export function outboxEvent<D extends DescMessage>(
  id: string,
  meetingId: string,
  subject: string,
  schema: D,
  value: MessageInitShape<D>,
  time: Date,
): OutboxEvent {
  return { id, meetingId, subject, body: toJson(schema, value), time };
}

interface OutboxRow {
  event_id: string;
  meeting_id: string;
  subject: string;
  body: string;
  event_time: Date;
}

const fromRow = (r: OutboxRow): OutboxEvent => ({ id: r.event_id, meetingId: r.meeting_id, subject: r.subject, body: r.body, time: r.event_time });
const encoder = new TextEncoder();

export interface OutboxOptions {
  /**
   * The service's own outbox table: `event_id text primary key, meeting_id text, subject text,
   * body text, event_time timestamptz, seq bigint generated always as identity`, for
   * service_role only. A literal of the owning service (scripts/table-owners.ts).
   */
  table: string;
  /** ce-source of the events (kit's `eventSource(service)`). */
  source: string;
  /** The advisory lock only one relay of this table holds at a time: any bigint of its own. */
  relayLockKey: string;
}

/**
 * Transactional outbox, the one way a service publishes what its transactions change: an event
 * is written in the transaction of the change it announces, published after commit, then
 * deleted. Whatever a crash (or a bus that did not answer) leaves behind is published again by
 * the next call that changes the same meeting, or by the service's sweep (`relay`).
 */
export class Outbox {
  readonly #db: Db;
  readonly #js: JetStreamClient;
  readonly #logger: Logger;
  readonly #table: string;
  readonly #source: string;
  readonly #relayLockKey: string;
  /** Events this process is publishing, or has published and not yet cleared: nobody here publishes them again. */
  readonly #unsettled = new Set<string>();
  /** Clears published events in batches, off the path of the message being handled. */
  readonly #forgetter: Batcher<string, void>;
  readonly #forgetting = new Set<Promise<void>>();

  constructor(db: Db, js: JetStreamClient, logger: Logger, options: OutboxOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.table)) throw new Error(`not a table name: ${options.table}`);
    this.#db = db;
    this.#js = js;
    this.#logger = logger;
    this.#table = options.table;
    this.#source = options.source;
    this.#relayLockKey = options.relayLockKey;
    this.#forgetter = new Batcher<string, void>(
      async (ids) => {
        try {
          await this.#db.asService((tx) => tx.query(`delete from ${this.#table} where event_id = any($1::text[])`, [ids]));
        } catch (err) {
          // Published already: the relay publishes these again under the same ids, and
          // JetStream drops them as duplicates.
          this.#logger.warn({ err, events: ids.length }, 'could not clear published outbox events');
        }
        return ids.map(() => undefined);
      },
      { maxBatch: 1_000, maxConcurrent: 1 },
    );
  }

  async add(tx: Tx, events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    await tx.query(
      `insert into ${this.#table} (event_id, meeting_id, subject, body, event_time)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
       on conflict (event_id) do nothing`,
      [events.map((e) => e.id), events.map((e) => e.meetingId), events.map((e) => e.subject), events.map((e) => e.body), events.map((e) => e.time)],
    );
  }

  /** Events of these meetings not yet acknowledged by JetStream, oldest first. */
  async pending(tx: Tx, meetingIds: readonly string[]): Promise<OutboxEvent[]> {
    if (meetingIds.length === 0) return [];
    const { rows } = await tx.query<OutboxRow>(
      `select event_id, meeting_id, subject, body, event_time from ${this.#table} where meeting_id = any($1::text[]) order by seq`,
      [meetingIds],
    );
    return rows.map(fromRow);
  }

  /**
   * Publishes in order per meeting (created before cancelled), meetings in parallel. Resolves
   * once JetStream has acknowledged every event, so the caller may ack its message; clearing
   * them from the outbox follows. Throws if any publish fails: the caller does not ack, and the
   * redelivery publishes what is left. Events another call of this process is already
   * publishing are left to it (a duplicate booking racing its original).
   */
  async publish(all: readonly OutboxEvent[]): Promise<void> {
    const events = all.filter((e) => !this.#unsettled.has(e.id));
    if (events.length === 0) return;
    for (const e of events) this.#unsettled.add(e.id);
    const byMeeting = new Map<string, OutboxEvent[]>();
    for (const e of events) {
      const list = byMeeting.get(e.meetingId);
      if (list) list.push(e);
      else byMeeting.set(e.meetingId, [e]);
    }
    try {
      await Promise.all(
        [...byMeeting.values()].map(async (list) => {
          for (const e of list) await this.#publishOne(e);
        }),
      );
    } catch (err) {
      for (const e of events) this.#unsettled.delete(e.id);
      throw err;
    }
    for (const e of events) {
      const forgotten = this.#forgetter.submit(e.id).finally(() => {
        this.#unsettled.delete(e.id);
        this.#forgetting.delete(forgotten);
      });
      this.#forgetting.add(forgotten);
    }
  }

  /** Waits until published events are cleared (on shutdown, so a restart does not publish them again). */
  async settle(): Promise<void> {
    while (this.#forgetting.size > 0) await Promise.all([...this.#forgetting]);
  }

  /**
   * Publishes events whose publisher did not finish (crashed). One relay at a time across every
   * replica (a session advisory lock; the others find it taken and return 0), in outbox order,
   * with no transaction open and no row locked while it waits on JetStream: two relays taking
   * turns with `skip locked` could split one meeting's events between them and publish its
   * cancelled before its created. Events this process is still publishing are left to it, and so
   * is everything after them of the same meeting, so its order holds here too.
   */
  async relay(olderThan: Date, limit: number): Promise<number> {
    return this.#db.withConnection(async (client) => {
      const { rows: locked } = await client.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [this.#relayLockKey]);
      if (!locked[0]?.got) return 0;
      try {
        const { rows } = await client.query<OutboxRow>(
          `select event_id, meeting_id, subject, body, event_time from ${this.#table} where event_time <= $1 order by seq limit $2`,
          [olderThan, limit],
        );
        const held = new Set<string>();
        const events: OutboxEvent[] = [];
        for (const e of rows.map(fromRow)) {
          if (this.#unsettled.has(e.id)) held.add(e.meetingId);
          else if (!held.has(e.meetingId)) events.push(e);
        }
        for (const e of events) {
          await this.#publishOne(e);
          this.#logger.info({ meetingId: e.meetingId, eventId: e.id }, 'published a stranded event');
        }
        if (events.length > 0) await client.query(`delete from ${this.#table} where event_id = any($1::text[])`, [events.map((e) => e.id)]);
        return events.length;
      } finally {
        // A lost connection took the session lock with it; the unlock then fails like the rest.
        await client.query('select pg_advisory_unlock($1)', [this.#relayLockKey]);
      }
    });
  }

  async #publishOne(e: OutboxEvent): Promise<void> {
    await withSpan(`publish ${e.subject}`, { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': e.subject } }, async () => {
      const h = cloudEventHeaders(e.subject, this.#source, { id: e.id, time: e.time });
      injectTraceContext(h);
      // Rides out a stream leader election, as publishEvent does: a leave answered `unavailable`
      // only because the stream was electing (found by the drills) is a lesson whose end waits
      // for the relay.
      await publishAcked(this.#js, e.subject, encoder.encode(e.body), h);
    });
  }
}
