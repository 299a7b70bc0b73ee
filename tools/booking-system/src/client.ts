import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { decode, isJetStreamUnavailable, type JetStreamClient, type NatsConnection, publishEvent } from '@lessoncall/kit';
import { type BookingConfirmed, BookingConfirmedSchema, type MeetingLinkCreated, MeetingLinkCreatedSchema, subjects } from '@lessoncall/proto';

/**
 * The booking system's side of the bus, for the local `booking` command, tests and benchmarks:
 * publish booking.confirmed as any booking system would, and wait for its meeting.
 */
export interface Booking {
  bookingId: string;
  tutorId: string;
  studentId: string;
  scheduledStart: Date;
  scheduledEnd: Date;
  title?: string;
  tutorName?: string;
  studentName?: string;
  /** A group lesson: every student (studentId among them). */
  studentIds?: string[];
  /** Record the lesson (it runs on the SFU). */
  record?: boolean;
}

export const bookingSystemSource = '/booking-system';

/** The booking.confirmed message of a booking. */
export function bookingConfirmed(b: Booking): BookingConfirmed {
  return create(BookingConfirmedSchema, {
    bookingId: b.bookingId,
    tutorId: b.tutorId,
    studentId: b.studentId,
    scheduledStart: timestampFromDate(b.scheduledStart),
    scheduledEnd: timestampFromDate(b.scheduledEnd),
    title: b.title ?? '',
    tutorName: b.tutorName ?? '',
    studentName: b.studentName ?? '',
    studentIds: b.studentIds ?? [],
    record: b.record ?? false,
  });
}

/** Publishes booking.confirmed (CloudEvents, Nats-Msg-Id = ce-id); returns the ce-id. */
export async function publishBookingConfirmed(
  js: JetStreamClient,
  b: Booking,
  options: { id?: string; source?: string; retryForMs?: number } = {},
): Promise<string> {
  const id = options.id ?? crypto.randomUUID();
  try {
    await publishEvent(js, subjects.bookingConfirmed, BookingConfirmedSchema, bookingConfirmed(b), {
      id,
      source: options.source ?? bookingSystemSource,
      ...(options.retryForMs === undefined ? {} : { retryForMs: options.retryForMs }),
    });
  } catch (err) {
    // Nobody answers a publish that no stream takes (nats.js: JetStreamNotEnabled); the meeting service creates the stream.
    if (isJetStreamUnavailable(err)) {
      throw new Error(`no JetStream stream stores ${subjects.bookingConfirmed}: is the meeting service running (npm start)?`, { cause: err });
    }
    throw err;
  }
  return id;
}

/**
 * Publishes the booking and resolves with its meeting's passcode and link (meeting_link.created,
 * which only the booking system's NATS user may read), or rejects after `timeoutMs`.
 */
export async function bookAndWait(nc: NatsConnection, js: JetStreamClient, b: Booking, timeoutMs: number): Promise<MeetingLinkCreated> {
  const sub = nc.subscribe('meeting_link.created.>');
  try {
    // The subscription is in place on the server before the booking can produce its meeting.
    await nc.flush();
    const created = (async () => {
      for await (const m of sub) {
        const event = decode(MeetingLinkCreatedSchema, m.data);
        if (event.bookingId === b.bookingId) return event;
      }
      throw new Error('subscription closed');
    })();
    // Unsubscribing after a timeout or a failed publish ends the loop above: nobody awaits it then.
    created.catch(() => {});
    // A stream without a leader for a moment (a cluster electing one) is retried within the same deadline.
    await publishBookingConfirmed(js, b, { retryForMs: Math.min(timeoutMs, 10_000) });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no meeting_link.created for booking ${b.bookingId} within ${timeoutMs} ms: is the meeting service running?`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([created, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    sub.unsubscribe();
  }
}

/** "90s", "5m", "2h", "1h30m", "-10m", "now"; a bare number is minutes. */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  if (s === 'now' || s === '0') return 0;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 60_000);
  const m = /^(-)?((?:\d+(?:\.\d+)?[smhd])+)$/.exec(s);
  if (!m?.[2]) throw new Error(`not a duration: ${text} (try 90s, 5m, 2h, 1h30m)`);
  const unit: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let ms = 0;
  for (const [, n, u] of m[2].matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) ms += Number(n) * (unit[u as string] ?? 0);
  return Math.round(m[1] ? -ms : ms);
}

/** KEY=VALUE lines (as in .local/stack.env); comments, blank lines and `export ` prefixes allowed. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m?.[1] || line.trim().startsWith('#')) continue;
    let value = m[2] ?? '';
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[m[1]] = value;
  }
  return out;
}
