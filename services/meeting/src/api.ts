import { type Clock, type Db, invalidRequest, type Logger, ServiceError, type ServiceImpl, type Tx } from '@lessoncall/kit';
import { checkMeetingAccessibility, type MeetingService } from '@lessoncall/proto';
import type { Bookings } from './bookings';
import type { MeetingEvents } from './events';
import type { Lifecycle } from './lifecycle';
import type { MeetingMetrics } from './metrics';
import { meetingColumns, type MeetingRow, type UserMeetingRow, userMeetingColumns, userTypeOf } from './model';
import type { Passcodes } from './passcodes';
import { normalizeClientKey, requireBookingId, requireMeetingId, requireUuid } from './validation';

export interface ApiDeps {
  db: Db;
  bookings: Bookings;
  lifecycle: Lifecycle;
  passcodes: Passcodes;
  events: MeetingEvents;
  clock: Clock;
  logger: Logger;
  metrics: MeetingMetrics;
}

/**
 * A booking id belongs to the booking system: only its credential creates the meeting of a
 * booking. A tutor creating a meeting through the API gets it under their own namespace, so it
 * can never take the id of a booking the booking system has yet to confirm.
 */
export function userBookingId(tutorId: string, bookingId: string): string {
  return `user:${tutorId}:${bookingId}`;
}

const notFound = (meetingId: string) => new ServiceError('meeting_not_found', 'no such meeting', { meetingId });

/** MeetingService's methods that the gateway (and the booking system) call; describeMeeting is in describe.ts. */
export function meetingApi(d: ApiDeps): Omit<ServiceImpl<typeof MeetingService>, 'describeMeeting'> {
  const { db, logger } = d;
  const byMeetingId = (meetingId: string) => async (tx: Tx) =>
    (await tx.query<MeetingRow>(`select ${meetingColumns} from video_meetings where meeting_id = $1`, [meetingId])).rows[0];
  const byBookingId = (bookingId: string) => async (tx: Tx) =>
    (await tx.query<MeetingRow>(`select ${meetingColumns} from video_meetings where booking_id = $1`, [bookingId])).rows[0];
  // As a user (RLS): users hold no grant on the passcode column, so these never select it.
  const userByMeetingId = (meetingId: string) => async (tx: Tx) =>
    (await tx.query<UserMeetingRow>(`select ${userMeetingColumns} from video_meetings where meeting_id = $1`, [meetingId])).rows[0];
  const userByBookingId = (bookingId: string) => async (tx: Tx) =>
    (await tx.query<UserMeetingRow>(`select ${userMeetingColumns} from video_meetings where booking_id = $1`, [bookingId])).rows[0];
  const passcodeOf = async (meetingId: string) =>
    (
      await db.autocommit.query<Pick<MeetingRow, 'meeting_id' | 'passcode'>>('select meeting_id, passcode from video_meetings where meeting_id = $1', [
        meetingId,
      ])
    ).rows[0];

  return {
    createMeeting: async (req) => {
      const input = d.bookings.validate(req);
      if (!req.actorIsService && req.actorUserId.toLowerCase() !== input.tutorId) {
        throw new ServiceError('forbidden', 'only the tutor or the booking system may create this meeting');
      }
      const r = await d.bookings.create(req.actorIsService ? input : { ...input, bookingId: userBookingId(input.tutorId, input.bookingId) });
      if (r.conflict) {
        throw new ServiceError('conflict', `booking ${input.bookingId} already has a meeting for other people`, { meetingId: r.row.meeting_id });
      }
      if (r.created) {
        d.metrics.meetingsCreated.add(1, { via: 'api' });
        logger.info({ meetingId: r.row.meeting_id, bookingId: input.bookingId }, 'meeting created');
      }
      return { meeting: d.events.meeting(r.row), passcode: r.row.passcode, url: d.events.url(r.row), created: r.created };
    },

    getMeeting: async (req) => {
      const meetingId = requireMeetingId(req.meetingId);
      const userId = requireUuid(req.userId, 'userId');
      // Through RLS: somebody else's meeting does not exist for this user.
      const row = await db.asUser(userId, userByMeetingId(meetingId));
      if (!row) throw notFound(meetingId);
      // RLS already limits the meeting to its tutor and student; a passcode, when given (the
      // lobby checking a link), is verified with the same lockout as joining, as the service.
      if (req.passcode !== '') {
        const secret = await passcodeOf(meetingId);
        if (!secret) throw notFound(meetingId);
        await d.passcodes.check(secret, userId, req.passcode, normalizeClientKey(req.clientKey));
      }
      return { meeting: d.events.meeting(row) };
    },

    verifyJoin: async (req) => {
      const meetingId = requireMeetingId(req.meetingId);
      const userId = requireUuid(req.userId, 'userId');
      if (req.passcode === '') throw invalidRequest('passcode', 'passcode is required');
      // As the service, so that the web can tell "not your lesson" from "no such lesson"; one
      // statement, so no transaction around it (one round trip: this is on every join).
      const row = await byMeetingId(meetingId)(db.autocommit);
      if (!row) throw notFound(meetingId);
      const userType = userTypeOf(row, userId);
      if (!userType) throw new ServiceError('not_a_participant', 'you are neither the tutor nor the student of this lesson', { meetingId });
      await d.passcodes.check(row, userId, req.passcode, normalizeClientKey(req.clientKey));
      const access = checkMeetingAccessibility(
        { status: row.status, scheduledStart: row.scheduled_start, scheduledEnd: row.scheduled_end },
        d.clock.now(),
        d.events.window,
      );
      if (!access.ok) {
        if (access.code === 'meeting_not_started') {
          throw new ServiceError('meeting_not_started', `the lesson opens at ${access.opensAt.toISOString()}`, {
            meetingId,
            retryAfterSeconds: access.retryAfterSeconds,
          });
        }
        throw new ServiceError(access.code, access.code === 'meeting_cancelled' ? 'the lesson was cancelled' : 'the lesson has ended', { meetingId });
      }
      return { meeting: d.events.meeting(row), userType };
    },

    endMeeting: async (req) => {
      const meetingId = requireMeetingId(req.meetingId);
      const userId = requireUuid(req.userId, 'userId');
      const row = await db.asService(byMeetingId(meetingId));
      if (!row) throw notFound(meetingId);
      const userType = userTypeOf(row, userId);
      if (!userType) throw new ServiceError('not_a_participant', 'you are neither the tutor nor the student of this lesson', { meetingId });
      if (userType !== 'tutor') throw new ServiceError('forbidden', 'only the tutor can end the lesson', { meetingId });
      if (row.status === 'cancelled') throw new ServiceError('meeting_cancelled', 'the lesson was cancelled', { meetingId });
      // Ending twice answers the ended meeting: a retried request must not fail.
      const after = row.status === 'completed' ? row : await d.lifecycle.end(meetingId, 'ended_by_tutor');
      return { meeting: d.events.meeting(after ?? row) };
    },

    findMeetingByBooking: async (req) => {
      const bookingId = requireBookingId(req.bookingId);
      let row: UserMeetingRow | undefined;
      if (req.actorIsService) row = await byBookingId(bookingId)(db.autocommit);
      else {
        // The booking system's meeting of that booking first, then one the user created under it.
        const userId = requireUuid(req.userId, 'userId');
        row = await db.asUser(userId, async (tx) => (await userByBookingId(bookingId)(tx)) ?? (await userByBookingId(userBookingId(userId, bookingId))(tx)));
      }
      if (!row) throw new ServiceError('meeting_not_found', `no meeting for booking ${bookingId}`);
      return { meeting: d.events.meeting(row) };
    },
  };
}
