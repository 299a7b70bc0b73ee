import type { DescMessage } from '@bufbuild/protobuf';
import { consumeEvents, ensureConsumer, invalidRequest, type RunningConsumer } from '@lessoncall/kit';
import {
  eventTypeOf,
  type Meeting,
  MeetingCancelledSchema,
  MeetingCreatedSchema,
  MeetingEndedSchema,
  MeetingRescheduledSchema,
  MeetingStartedSchema,
  streams,
} from '@lessoncall/proto';
import type { Context } from './context';
import { announce, leftEvent } from './events';
import { publishRecordReady } from './record';
import { applyMeeting, isClosed, lockMeeting, type MeetingStatus } from './projection';
import { type SessionRow, sessionColumns } from './rows';

export const meetingsDurable = 'participant-meetings';

/** Every event that carries the meeting as its owner sees it; meeting.no_show is not for us. */
const schemas: Record<string, DescMessage> = {
  'meeting.created': MeetingCreatedSchema,
  'meeting.started': MeetingStartedSchema,
  'meeting.ended': MeetingEndedSchema,
  'meeting.cancelled': MeetingCancelledSchema,
  'meeting.rescheduled': MeetingRescheduledSchema,
};

/**
 * Keeps participant_meetings up to date from the MEETINGS stream, and ends sessions with their
 * meeting: meeting.ended and meeting.cancelled close every live session (`ended`).
 */
export async function consumeMeetings(ctx: Context, jsm: Parameters<typeof ensureConsumer>[0]): Promise<RunningConsumer> {
  await ensureConsumer(jsm, { stream: streams.meetings.name, durable: meetingsDurable });
  return consumeEvents({
    nc: ctx.nc,
    js: ctx.js,
    stream: streams.meetings.name,
    durable: meetingsDurable,
    logger: ctx.logger,
    deadLetters: ctx.metrics.deadLetters,
    metrics: { retries: ctx.metrics.eventRetries },
    batch: 64,
    schemaFor: (subject) => schemas[eventTypeOf(subject)],
    handle: async (event) => {
      const meeting = (event.body as { meeting?: Meeting }).meeting;
      if (!meeting) throw invalidRequest('meeting', `${event.meta.type} without its meeting`);
      if (event.subject.split('.')[2] !== meeting.meetingId) throw invalidRequest('meeting.meetingId', 'the meeting is not the one the subject names');
      await projectMeeting(ctx, meeting);
      // A lesson that took place leaves a record; a cancelled meeting leaves none.
      if (meeting.status === 'completed') await publishRecordReady(ctx, meeting.meetingId);
    },
  });
}

/**
 * Applies the snapshot and, if the meeting is over, closes its live sessions in the same
 * transaction: the projection's row lock orders this against joins, so a join either committed
 * first (and its session is closed here) or sees the meeting over. Idempotent: a redelivered
 * event finds the snapshot applied and no live session left. Each participant.left is written
 * to the outbox in the same transaction and published after it; a publish that fails leaves the
 * event unacked, and the redelivery publishes what the meeting still owes.
 */
export async function projectMeeting(ctx: Context, meeting: Meeting): Promise<number> {
  const meetingId = meeting.meetingId;
  // A snapshot of an open meeting closes nothing: one statement, no transaction (one round
  // trip for every meeting.created and meeting.started). A projection already further along
  // keeps its status, and its sessions were closed when that status was applied.
  if (!isClosed(meeting.status as MeetingStatus)) {
    await applyMeeting(ctx.db.autocommit, meeting);
    return 0;
  }
  const { closed, owed } = await ctx.db.asService(async (tx) => {
    await applyMeeting(tx, meeting);
    const projected = await lockMeeting(tx, meetingId);
    if (!projected || !isClosed(projected.status)) return { closed: [], owed: [] };
    const r = await tx.query<SessionRow>(
      `update video_participants set left_at = $2, left_reason = 'ended'
       where meeting_id = $1 and left_at is null returning ${sessionColumns}`,
      [meetingId, ctx.clock.now()],
    );
    await ctx.outbox.add(
      tx,
      r.rows.map((row) => leftEvent(row)),
    );
    return { closed: r.rows, owed: await ctx.outbox.pending(tx, [meetingId]) };
  });
  await announce(ctx, owed);
  for (const row of closed) {
    ctx.metrics.closed.add(1, { reason: 'ended' });
    ctx.logger.info({ meetingId, sessionId: row.session_id, userId: row.user_id }, 'meeting over; session closed');
  }
  return closed.length;
}
