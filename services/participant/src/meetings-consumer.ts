import { consumeEvents, ensureConsumer, type RunningConsumer } from '@lessoncall/kit';
import { MeetingCancelledSchema, MeetingEndedSchema, streams } from '@lessoncall/proto';
import type { Context } from './context';
import { publishLeft } from './events';
import { type SessionRow, sessionColumns } from './rows';

export const meetingsDurable = 'participant-meetings';

/** Sessions end with their meeting: meeting.ended and meeting.cancelled close every live session (`ended`). */
export async function consumeMeetings(ctx: Context, jsm: Parameters<typeof ensureConsumer>[0]): Promise<RunningConsumer> {
  await ensureConsumer(jsm, { stream: streams.meetings.name, durable: meetingsDurable });
  return consumeEvents({
    nc: ctx.nc,
    js: ctx.js,
    stream: streams.meetings.name,
    durable: meetingsDurable,
    logger: ctx.logger,
    deadLetters: ctx.metrics.deadLetters,
    batch: 64,
    schemaFor: (subject) =>
      subject.startsWith('meeting.ended.') ? MeetingEndedSchema : subject.startsWith('meeting.cancelled.') ? MeetingCancelledSchema : undefined,
    handle: async (event) => {
      const meetingId = event.subject.split('.')[2] ?? '';
      await closeMeetingSessions(ctx, meetingId);
    },
  });
}

/**
 * Idempotent: a redelivered event finds no live session left. Events are published before the
 * commit with per-session ce-ids, so a failure between the two re-publishes rather than loses them.
 */
export async function closeMeetingSessions(ctx: Context, meetingId: string): Promise<number> {
  const closed = await ctx.db.asService(async (tx) => {
    const r = await tx.query<SessionRow>(
      `update video_participants set left_at = $2, left_reason = 'ended'
       where meeting_id = $1 and left_at is null returning ${sessionColumns}`,
      [meetingId, ctx.clock.now()],
    );
    await Promise.all(r.rows.map((row) => publishLeft(ctx, row)));
    return r.rows;
  });
  for (const row of closed) {
    ctx.metrics.closed.inc({ reason: 'ended' });
    ctx.logger.info({ meetingId, sessionId: row.session_id, userId: row.user_id }, 'meeting over; session closed');
  }
  return closed.length;
}
