import { fromZero, type Meter } from '@lessoncall/kit';

export type MeetingMetrics = ReturnType<typeof createMeetingMetrics>;

export function createMeetingMetrics(meter: Meter) {
  return {
    bookingEvents: meter.createCounter<{ type: string; outcome: string }>('meeting_booking_events_total', {
      description: 'Booking events handled, by type and outcome (created, replayed, cancelled, cancel_remembered, rescheduled, stale, invalid, …)',
    }),
    deadLetters: meter.createCounter<{ subject: string; reason: string }>('meeting_dead_letters_total', {
      description: 'Events parked in the DEADLETTER stream (npm run deadletter), by type and reason (malformed, invalid)',
    }),
    eventRetries: meter.createCounter<{ subject: string; failure: string }>('meeting_event_retries_total', {
      description: 'Redeliveries of consumed events asked for after a failure, by subject and failure (transient, unknown)',
    }),
    eventsRetryingLong: meter.createCounter<{ subject: string }>('meeting_events_retrying_long_total', {
      description: 'Failed deliveries of events published longer ago than BOOKING_RETRY_ALERT_MS: a rate above 0 means events are stuck',
    }),
    meetingsCreated: meter.createCounter<{ via: string }>('meeting_meetings_created_total', {
      description: 'Meetings created, by where the request came from (booking event or API)',
    }),
    transitions: meter.createCounter<{ event: string; reason: string }>('meeting_transitions_total', {
      description: 'Lifecycle transitions, by event (started, ended, cancelled, rescheduled) and reason',
    }),
    passcodeFailures: fromZero(meter.createCounter('meeting_passcode_failures_total', { description: 'Wrong passcodes' })),
    passcodeLocks: meter.createCounter<{ scope: string }>('meeting_passcode_locks_total', {
      description: 'Passcode locks set, by scope (client: one meeting, user and client key)',
    }),
    passcodeLockedRefusals: fromZero(
      meter.createCounter('meeting_passcode_locked_refusals_total', { description: 'Passcode checks refused because of a lock' }),
    ),
    noShows: fromZero(meter.createCounter('meeting_no_shows_total', { description: 'meeting.no_show events published' })),
    attendanceUnavailable: fromZero(
      meter.createCounter('meeting_attendance_unavailable_total', {
        description:
          'Attendance asked of the participant service that did not come (meeting.ended went without it, or a no-show check waits for the next sweep)',
      }),
    ),
    bookingToMeeting: meter.createHistogram('meeting_booking_to_meeting_seconds', {
      description: 'From booking.confirmed (its ce-time) to its meeting committed',
      advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] },
    }),
    createBatchSize: meter.createHistogram('meeting_create_batch_size', {
      description: 'Meetings inserted per database transaction',
      advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256] },
    }),
  };
}
