import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Clock, cloudEventHeaders, createLogger, decode, encode, type NatsConnection, client } from '@lessoncall/kit';
import type { Harness } from '@lessoncall/kit/testing';
import { BookingConfirmedSchema, MeetingService as MeetingRpc, subjects } from '@lessoncall/proto';
import { bookingsDurable } from '../src/consumers';
import { loadMeetingConfig, type MeetingService, startMeetingService } from '../src/index';

export const tutor = '11111111-1111-4111-8111-111111111111';
export const student = '22222222-2222-4222-8222-222222222222';
export const stranger = '33333333-3333-4333-8333-333333333333';

export const logger = createLogger('meeting-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function testConfig(h: Harness, overrides: Record<string, string> = {}) {
  return loadMeetingConfig({
    ...h.natsEnv('meeting'),
    DATABASE_URL: h.postgres?.url,
    HEALTH_PORT: '0',
    PUBLIC_BASE_URL: 'https://lessons.test',
    // Tests run the sweep themselves.
    SWEEP_INTERVAL_MS: '3600000',
    BOOKING_ACK_WAIT_MS: '2000',
    ATTENDANCE_TIMEOUT_MS: '500',
    ...overrides,
  });
}

export function start(h: Harness, clock?: Clock, overrides: Record<string, string> = {}): Promise<MeetingService> {
  return startMeetingService(testConfig(h, overrides), { logger, clock, telemetry: false });
}

export function bookingBody(bookingId: string, start: Date, minutes = 60, people: { tutorId?: string; studentId?: string } = {}) {
  return {
    bookingId,
    tutorId: people.tutorId ?? tutor,
    studentId: people.studentId ?? student,
    scheduledStart: timestampFromDate(start),
    scheduledEnd: timestampFromDate(new Date(start.getTime() + minutes * 60_000)),
    title: `Lesson ${bookingId}`,
    tutorName: 'Tina Tutor',
    studentName: 'Sam Student',
  };
}

/** Publishes an event as the booking system (or participant service) would, raw bytes allowed. */
export async function publishRaw(h: Harness, subject: string, data: Uint8Array | string, options: { id: string; time?: Date }): Promise<void> {
  const body = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  await h.js.publish(subject, body, { headers: cloudEventHeaders(subject, '/test', options), msgID: options.id });
}

export async function publish<D extends DescMessage>(
  h: Harness,
  subject: string,
  schema: D,
  value: MessageInitShape<D>,
  options: { id: string; time?: Date },
): Promise<void> {
  await publishRaw(h, subject, encode(schema, value), options);
}

export function confirm(h: Harness, bookingId: string, start: Date, id = `confirm-${bookingId}`, people: { tutorId?: string; studentId?: string } = {}) {
  return publish(h, subjects.bookingConfirmed, BookingConfirmedSchema, bookingBody(bookingId, start, 60, people), { id });
}

/** The meeting service's API as the tests call it (the booking system's or the gateway's side of it). */
export function meetingsOf(nc: NatsConnection) {
  return client(nc, MeetingRpc, { timeoutMs: 5_000 });
}

export interface StoredEvent {
  subject: string;
  id: string;
  seq: number;
  data: Uint8Array;
}

/** Every message of a stream matching a filter, in stream order (through an ordered consumer). */
export async function readStream(h: Harness, stream: string, filter: string): Promise<StoredEvent[]> {
  const c = await h.js.consumers.get(stream, { filter_subjects: filter });
  const out: StoredEvent[] = [];
  for (;;) {
    const batch = await c.fetch({ max_messages: 500, expires: 1_000 });
    let n = 0;
    for await (const m of batch) {
      out.push({ subject: m.subject, id: m.headers?.get('ce-id') ?? '', seq: m.seq, data: m.data });
      n++;
    }
    if (n === 0) return out;
  }
}

/** How many events each subject of MEETINGS holds (after JetStream's duplicate detection). */
export async function subjectCounts(h: Harness, filter: string): Promise<Record<string, number>> {
  const info = await h.jsm.streams.info('MEETINGS', { subjects_filter: filter });
  return (info.state.subjects ?? {}) as Record<string, number>;
}

export async function lastEvent<D extends DescMessage>(h: Harness, subject: string, schema: D): Promise<{ id: string; body: MessageShape<D> }> {
  const m = await h.jsm.streams.getMessage('MEETINGS', { last_by_subj: subject });
  if (!m) throw new Error(`no ${subject} in MEETINGS`);
  return { id: m.header.get('ce-id'), body: decode(schema, m.data) };
}

export async function meetingRow(h: Harness, bookingId: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await h.db!.pool.query('select * from video_meetings where booking_id = $1', [bookingId]);
  return rows[0];
}

/**
 * Resolves once the meeting service has handled every booking event published so far and
 * published what they caused: its consumer has nothing undelivered or unacked, and the outbox
 * is empty. Proves "nothing more will come" without a sleep.
 */
export async function bookingsSettled(h: Harness, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await h.jsm.consumers.info('BOOKINGS', bookingsDurable);
    const { rows } = await h.db!.pool.query<{ n: number }>('select count(*)::int as n from video_meeting_outbox');
    if (info.num_pending === 0 && info.num_ack_pending === 0 && rows[0]?.n === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `booking events not settled in ${timeoutMs} ms: ${info.num_pending} undelivered, ${info.num_ack_pending} unacked, ${rows[0]?.n} in the outbox`,
      );
    }
    await h.nc.flush();
  }
}
