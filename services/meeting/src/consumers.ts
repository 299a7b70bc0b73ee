import type { DescMessage } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import {
  type Clock,
  consumeEvents,
  type Db,
  invalidRequest,
  type JetStreamClient,
  type Logger,
  type NatsConnection,
  type ReceivedEvent,
  type RetryPolicy,
  type RunningConsumer,
  ServiceError,
} from '@lessoncall/kit';
import {
  type BookingCancelled,
  BookingCancelledSchema,
  type BookingConfirmed,
  BookingConfirmedSchema,
  type BookingRescheduled,
  BookingRescheduledSchema,
  eventTypeOf,
  isValidMeetingId,
  type ParticipantJoined,
  ParticipantJoinedSchema,
  ParticipantLeftSchema,
  type ParticipantLeft,
  type RecordingReady,
  RecordingReadySchema,
  streams,
  subjects,
} from '@lessoncall/proto';
import type { Bookings } from './bookings';
import type { Lifecycle } from './lifecycle';
import type { MeetingMetrics } from './metrics';
import { requireBookingId, requireTimes } from './validation';

export const bookingsDurable = 'meeting-bookings';
export const participantsDurable = 'meeting-participants';

interface ConsumerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  logger: Logger;
  metrics: MeetingMetrics;
  batch: number;
  maxDeliver: number;
  retry: RetryPolicy;
  retryAlertMs: number;
}

/** What both consumers share: the back-off, the caps and the counters. */
function consumerOptions(d: ConsumerDeps) {
  return {
    nc: d.nc,
    js: d.js,
    logger: d.logger,
    batch: d.batch,
    maxDeliver: d.maxDeliver,
    retry: d.retry,
    retryAlertMs: d.retryAlertMs,
    deadLetters: d.metrics.deadLetters,
    metrics: { retries: d.metrics.eventRetries, retryingLong: d.metrics.eventsRetryingLong },
  };
}

const bookingSchemas: Record<string, DescMessage> = {
  [subjects.bookingConfirmed]: BookingConfirmedSchema,
  [subjects.bookingCancelled]: BookingCancelledSchema,
  [subjects.bookingRescheduled]: BookingRescheduledSchema,
};

/** When the booking system made a change: ce-time, or when JetStream stored the event. */
function eventTime(event: ReceivedEvent<unknown>): Date {
  const t = event.meta.time ? new Date(event.meta.time) : undefined;
  if (t && !Number.isNaN(t.getTime())) return t;
  return new Date(Math.floor(event.msg.info.timestampNanos / 1e6));
}

/** booking.confirmed / cancelled / rescheduled → meetings. */
export function consumeBookings(d: ConsumerDeps & { bookings: Bookings; clock: Clock }): Promise<RunningConsumer> {
  const { bookings, metrics, logger, clock } = d;
  const count = (type: string, outcome: string) => metrics.bookingEvents.add(1, { type, outcome });

  /** A field check that fails is counted here; kit dead-letters the invalid_request. */
  const checked = <T>(type: string, check: () => T): T => {
    try {
      return check();
    } catch (err) {
      count(type, 'invalid');
      throw err;
    }
  };

  const handle = async (event: ReceivedEvent<unknown>): Promise<void> => {
    const type = event.meta.type;
    switch (type) {
      case 'booking.confirmed': {
        const input = checked(type, () => d.bookings.validate(event.body as BookingConfirmed));
        const r = await bookings.create(input);
        if (r.conflict) {
          count(type, 'conflict');
          throw invalidRequest('bookingId', `booking ${input.bookingId} already has meeting ${r.row.meeting_id} for other people`);
        }
        count(type, r.created ? 'created' : 'replayed');
        if (r.created) {
          metrics.meetingsCreated.add(1, { via: 'booking' });
          // The booking → meeting service level: from the booking system's change to our commit.
          metrics.bookingToMeeting.record(Math.max(0, clock.now().getTime() - eventTime(event).getTime()) / 1000);
        }
        logger.debug({ meetingId: r.row.meeting_id, bookingId: input.bookingId, created: r.created }, 'booking confirmed');
        return;
      }
      case 'booking.cancelled': {
        const body = event.body as BookingCancelled;
        const bookingId = checked(type, () => requireBookingId(body.bookingId));
        count(type, await bookings.cancel(bookingId, body.reason));
        return;
      }
      case 'booking.rescheduled': {
        const body = event.body as BookingRescheduled;
        const { bookingId, times } = checked(type, () => ({
          bookingId: requireBookingId(body.bookingId),
          times: requireTimes(body.scheduledStart, body.scheduledEnd),
        }));
        count(type, await bookings.reschedule({ bookingId, ...times, eventId: event.meta.id, eventTime: eventTime(event) }));
        return;
      }
    }
  };

  return consumeEvents({
    ...consumerOptions(d),
    stream: streams.bookings.name,
    durable: bookingsDurable,
    schemaFor: (subject) => bookingSchemas[subject],
    handle: async (event) => {
      try {
        await handle(event);
      } catch (err) {
        if (!(err instanceof ServiceError)) count(event.meta.type, 'failed');
        throw err;
      }
    },
  });
}

/** participant.joined starts a meeting; participant.left may end it. */
export function consumeParticipants(d: ConsumerDeps & { lifecycle: Lifecycle }): Promise<RunningConsumer> {
  const meetingIdOf = (event: ReceivedEvent<unknown>, fromBody: string | undefined) => {
    const id = fromBody || event.subject.split('.')[2] || '';
    if (!isValidMeetingId(id)) throw invalidRequest('participant.meetingId', `not a meeting id: ${id}`);
    return id;
  };
  return consumeEvents({
    ...consumerOptions(d),
    stream: streams.participants.name,
    durable: participantsDurable,
    schemaFor: (subject) => {
      const type = eventTypeOf(subject);
      if (type === 'participant.joined') return ParticipantJoinedSchema;
      if (type === 'participant.left') return ParticipantLeftSchema;
      return undefined;
    },
    handle: async (event) => {
      if (event.meta.type === 'participant.joined') {
        const p = (event.body as ParticipantJoined).participant;
        await d.lifecycle.participantJoined(meetingIdOf(event, p?.meetingId), p?.joinedAt ? timestampDate(p.joinedAt) : undefined);
      } else {
        const p = (event.body as ParticipantLeft).participant;
        await d.lifecycle.participantLeft(meetingIdOf(event, p?.meetingId));
      }
    },
  });
}

export const mediaDurable = 'meeting-media';

/** recording.ready (the media service's): the meeting's recording_url, which this service owns. */
export function consumeRecordings(d: ConsumerDeps & { db: Db }): Promise<RunningConsumer> {
  return consumeEvents({
    ...consumerOptions(d),
    stream: streams.media.name,
    durable: mediaDurable,
    schemaFor: (subject) => (eventTypeOf(subject) === 'recording.ready' ? RecordingReadySchema : undefined),
    handle: async (event) => {
      const body = event.body as RecordingReady;
      const meetingId = body.meetingId || (event.subject.split('.')[2] ?? '');
      if (!isValidMeetingId(meetingId)) throw invalidRequest('recording.meetingId', `not a meeting id: ${meetingId}`);
      if (!/^https?:\/\//.test(body.recordingUrl)) throw invalidRequest('recording.recordingUrl', 'not an http(s) URL');
      await d.db.asService((tx) => tx.query('update video_meetings set recording_url = $2 where meeting_id = $1', [meetingId, body.recordingUrl]));
      d.logger.info({ meetingId }, 'recording_url set');
    },
  });
}
