import { Counter, Histogram, type Registry } from '@lessoncall/kit';

export type MeetingMetrics = ReturnType<typeof createMeetingMetrics>;

export function createMeetingMetrics(registry: Registry) {
  const registers = [registry];
  return {
    bookingEvents: new Counter({
      name: 'meeting_booking_events_total',
      help: 'Booking events handled, by type and outcome (created, replayed, cancelled, cancel_remembered, rescheduled, stale, invalid, …)',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'meeting_dead_letters_total',
      help: 'Events parked in the DEADLETTER stream (npm run deadletter), by type and reason (malformed, invalid)',
      labelNames: ['subject', 'reason'] as const,
      registers,
    }),
    eventRetries: new Counter({
      name: 'meeting_event_retries_total',
      help: 'Redeliveries of consumed events asked for after a failure, by subject and failure (transient, unknown)',
      labelNames: ['subject', 'failure'] as const,
      registers,
    }),
    eventsRetryingLong: new Counter({
      name: 'meeting_events_retrying_long_total',
      help: 'Failed deliveries of events published longer ago than BOOKING_RETRY_ALERT_MS: a rate above 0 means events are stuck',
      labelNames: ['subject'] as const,
      registers,
    }),
    meetingsCreated: new Counter({
      name: 'meeting_meetings_created_total',
      help: 'Meetings created, by where the request came from (booking event or API)',
      labelNames: ['via'] as const,
      registers,
    }),
    transitions: new Counter({
      name: 'meeting_transitions_total',
      help: 'Lifecycle transitions, by event (started, ended, cancelled, rescheduled) and reason',
      labelNames: ['event', 'reason'] as const,
      registers,
    }),
    passcodeFailures: new Counter({ name: 'meeting_passcode_failures_total', help: 'Wrong passcodes', registers }),
    passcodeLocks: new Counter({
      name: 'meeting_passcode_locks_total',
      help: 'Passcode locks set, by scope (client: one meeting, user and client key)',
      labelNames: ['scope'] as const,
      registers,
    }),
    passcodeLockedRefusals: new Counter({ name: 'meeting_passcode_locked_refusals_total', help: 'Passcode checks refused because of a lock', registers }),
    noShows: new Counter({ name: 'meeting_no_shows_total', help: 'meeting.no_show events published', registers }),
    attendanceUnavailable: new Counter({
      name: 'meeting_attendance_unavailable_total',
      help: 'Attendance asked of the participant service that did not come (meeting.ended went without it, or a no-show check waits for the next sweep)',
      registers,
    }),
    bookingToMeeting: new Histogram({
      name: 'meeting_booking_to_meeting_seconds',
      help: 'From booking.confirmed (its ce-time) to its meeting committed',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    createBatchSize: new Histogram({
      name: 'meeting_create_batch_size',
      help: 'Meetings inserted per database transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
  };
}
