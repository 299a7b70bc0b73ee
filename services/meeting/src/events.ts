import { createHash } from 'node:crypto';
import {
  type Attendance,
  generateMeetingUrl,
  type JoinWindowPolicy,
  type Meeting,
  MeetingCancelledSchema,
  MeetingCreatedSchema,
  MeetingEndedSchema,
  MeetingLinkCreatedSchema,
  MeetingNoShowSchema,
  MeetingRescheduledSchema,
  MeetingStartedSchema,
  subjects,
} from '@lessoncall/proto';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type MeetingRow, toMeeting, type UserMeetingRow } from './model';
import { eventSource, type OutboxEvent, type OutboxOptions, outboxEvent } from '@lessoncall/kit';

/** The meeting service's outbox (its events: meeting.*, meeting_link.*). */
export const outboxOptions: OutboxOptions = {
  table: 'video_meeting_outbox',
  source: eventSource('meeting'),
  relayLockKey: '7810208729045036920', // 'lcoutbox' in ASCII
};

export type EndReason = 'ended_by_tutor' | 'last_participant_left' | 'window_closed';

export interface Missing {
  userId: string;
  userType: 'tutor' | 'student';
}

/**
 * Builds the meeting.* events. Each transition happens once per meeting, so its event id is
 * the transition and the meeting; a reschedule is identified by the booking event behind it.
 */
export class MeetingEvents {
  readonly window: JoinWindowPolicy;
  readonly #baseUrl: string;

  constructor(window: JoinWindowPolicy, baseUrl: string) {
    this.window = window;
    this.#baseUrl = baseUrl;
  }

  meeting(row: UserMeetingRow): Meeting {
    return toMeeting(row, this.window);
  }

  url(row: Pick<MeetingRow, 'meeting_id' | 'passcode'>): string {
    return generateMeetingUrl(this.#baseUrl, row.meeting_id, row.passcode);
  }

  created(row: MeetingRow, time: Date): OutboxEvent {
    const id = row.meeting_id;
    return outboxEvent(`meeting.created:${id}`, id, subjects.meetingCreated(id), MeetingCreatedSchema, { meeting: this.meeting(row) }, time);
  }

  /** The passcode and link of a new meeting, on a subject only the booking system may read (not in MEETINGS). */
  link(row: MeetingRow, time: Date): OutboxEvent {
    const id = row.meeting_id;
    return outboxEvent(
      `meeting_link.created:${id}`,
      id,
      subjects.meetingLinkCreated(id),
      MeetingLinkCreatedSchema,
      { meetingId: id, bookingId: row.booking_id, passcode: row.passcode, url: this.url(row) },
      time,
    );
  }

  started(row: MeetingRow, time: Date): OutboxEvent {
    const id = row.meeting_id;
    return outboxEvent(`meeting.started:${id}`, id, subjects.meetingStarted(id), MeetingStartedSchema, { meeting: this.meeting(row) }, time);
  }

  ended(row: MeetingRow, reason: EndReason, attendance: Attendance | undefined, time: Date): OutboxEvent {
    const id = row.meeting_id;
    return outboxEvent(`meeting.ended:${id}`, id, subjects.meetingEnded(id), MeetingEndedSchema, { meeting: this.meeting(row), reason, attendance }, time);
  }

  cancelled(row: MeetingRow, reason: string, time: Date): OutboxEvent {
    const id = row.meeting_id;
    return outboxEvent(`meeting.cancelled:${id}`, id, subjects.meetingCancelled(id), MeetingCancelledSchema, { meeting: this.meeting(row), reason }, time);
  }

  /** Decided once per meeting, so the meeting is its id. */
  noShow(row: MeetingRow, missing: readonly Missing[], time: Date): OutboxEvent {
    const id = row.meeting_id;
    return outboxEvent(
      `meeting.no_show:${id}`,
      id,
      subjects.meetingNoShow(id),
      MeetingNoShowSchema,
      { meeting: this.meeting(row), missingUserIds: missing.map((m) => m.userId), missingUserTypes: missing.map((m) => m.userType) },
      time,
    );
  }

  rescheduled(row: MeetingRow, previous: { start: Date; end: Date }, bookingEventId: string, time: Date): OutboxEvent {
    const id = row.meeting_id;
    // The booking system's ce-id is any string: keep the event id short and header-safe.
    const cause = /^[\w.:-]{1,64}$/.test(bookingEventId) ? bookingEventId : createHash('sha256').update(bookingEventId).digest('hex').slice(0, 32);
    return outboxEvent(
      `meeting.rescheduled:${id}:${cause}`,
      id,
      subjects.meetingRescheduled(id),
      MeetingRescheduledSchema,
      { meeting: this.meeting(row), previousStart: timestampFromDate(previous.start), previousEnd: timestampFromDate(previous.end) },
      time,
    );
  }
}
