/**
 * The anchor of bench/booking-ingest.ts: the bus alone. Consumes booking.confirmed from the
 * BOOKINGS stream with the kit consumer the meeting service uses (same durable settings and
 * batch: decode, validate, ack) and publishes a meeting.created for each to the MEETINGS stream
 * with kit's publishEvent — everything the meeting service does on the bus, without Postgres
 * and the service's own logic. Run as its own process, like the meeting service.
 * NATS_URL, DURABLE and BATCH from the environment.
 */
import { connectNats, consumeEvents, createLogger, ensureConsumer, ensureStream, publishEvent, jetstream, jetstreamManager } from '@lessoncall/kit';
import { type BookingConfirmed, BookingConfirmedSchema, generateMeetingId, MeetingCreatedSchema, streams, subjects } from '@lessoncall/proto';

const batch = Number(process.env.BATCH ?? 512);
const anchorDurable = process.env.DURABLE ?? 'anchor-bookings';
const logger = createLogger('jetstream-echo', { level: 'warn' });
const nc = await connectNats({ url: process.env.NATS_URL ?? '', name: 'jetstream-echo', logger });
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
await Promise.all([ensureStream(jsm, streams.bookings), ensureStream(jsm, streams.meetings)]);
await ensureConsumer(jsm, { stream: streams.bookings.name, durable: anchorDurable, maxAckPending: batch * 4 });
await consumeEvents({
  nc,
  js,
  stream: streams.bookings.name,
  durable: anchorDurable,
  logger,
  batch,
  schemaFor: (subject) => (subject === subjects.bookingConfirmed ? BookingConfirmedSchema : undefined),
  handle: async (event) => {
    const b = event.body as BookingConfirmed;
    const meetingId = generateMeetingId();
    await publishEvent(
      js,
      subjects.meetingCreated(meetingId),
      MeetingCreatedSchema,
      { meeting: { meetingId, bookingId: b.bookingId, tutorId: b.tutorId, studentId: b.studentId, status: 'pending' } },
      { source: '/anchor', id: `created-${b.bookingId}` },
    );
  },
});
process.on('SIGTERM', () => void nc.drain().finally(() => process.exit(0)));
