import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { publishCore, ServiceError, type Tx } from '@lessoncall/kit';
import {
  type AllowRejoinRequest,
  type AllowRejoinResponseSchema,
  type AskUnmuteRequest,
  type AskUnmuteResponseSchema,
  type RemovalsRequest,
  type RemovalsResponseSchema,
  type RemoveRequest,
  type RemoveResponseSchema,
  removedFromLessonMessage,
  subjects,
  UnmuteAskedSchema,
} from '@lessoncall/proto';
import type { Context } from './context';
import { announce, leftEvent } from './events';
import { isClosed, isMemberOf, lockMeeting, type ProjectedMeeting } from './projection';
import { participantFromRow, type SessionRow, sessionColumns } from './rows';
import * as valid from './validate';

/**
 * The tutor's controls over the other participants of a lesson: remove (and let in again), ask to
 * unmute. Each is decided here, the owner of the sessions, under the projection's row lock that
 * every join of the meeting takes too; the gateway only routes them.
 */

export function removedError(meetingId: string): ServiceError {
  return new ServiceError('removed_from_meeting', removedFromLessonMessage, { meetingId });
}

/**
 * Only the meeting's tutor. A stranger learns nothing about the meeting (as everywhere else:
 * meeting_not_found); its student is told it is not theirs to do.
 */
async function lockAsTutor(tx: Tx, meetingId: string, actor: string): Promise<ProjectedMeeting> {
  const meeting = await lockMeeting(tx, meetingId);
  if (!meeting || !isMemberOf(meeting, actor)) {
    throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
  }
  if (meeting.tutor_id !== actor) throw new ServiceError('not_tutor', "only the meeting's tutor may do this", { meetingId });
  return meeting;
}

/** A session of the meeting the tutor points at; never the tutor's own (the tutor leaves instead). */
async function targetOf(tx: Tx, meeting: ProjectedMeeting, targetSessionId: string): Promise<SessionRow> {
  const r = await tx.query<SessionRow>(`select ${sessionColumns} from video_participants where meeting_id = $1 and session_id = $2`, [
    meeting.meeting_id,
    targetSessionId,
  ]);
  const target = r.rows[0];
  if (!target) throw new ServiceError('session_not_found', 'no such session in this meeting', { meetingId: meeting.meeting_id });
  if (target.user_id === meeting.tutor_id) {
    throw new ServiceError('invalid_request', "the tutor's own sessions cannot be the target", { meetingId: meeting.meeting_id, field: 'targetSessionId' });
  }
  return target;
}

/**
 * svc.participant.remove: closes every live session of the target's user (reason `removed`) and
 * bars the user from joining the meeting again until the tutor allows it. Idempotent: removing a
 * user already removed answers the same user with nothing closed, and publishes what the meeting
 * still owes (the participant.left of the first call, if the bus did not take it).
 */
export async function remove(ctx: Context, req: RemoveRequest): Promise<MessageInitShape<typeof RemoveResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const actor = valid.userId(req.userId);
  const targetSessionId = valid.sessionId(req.targetSessionId, 'targetSessionId');
  const now = ctx.clock.now();
  const { target, closed, owed } = await ctx.db.asService(async (tx) => {
    const meeting = await lockAsTutor(tx, meetingId, actor);
    const target = await targetOf(tx, meeting, targetSessionId);
    if (isClosed(meeting.status)) throw new ServiceError('meeting_ended', 'the meeting is over', { meetingId });
    if (target.left_at !== null && target.left_reason !== 'removed') {
      throw new ServiceError('not_in_meeting', 'that session has left the meeting', { meetingId });
    }
    await tx.query(
      `insert into participant_removals (meeting_id, user_id, session_id, removed_by, removed_at)
       values ($1, $2, $3, $4, $5)
       on conflict (meeting_id, user_id) where allowed_at is null do nothing`,
      [meetingId, target.user_id, targetSessionId, actor, now],
    );
    const closed = await tx.query<SessionRow>(
      `update video_participants set left_at = $3, left_reason = 'removed'
       where meeting_id = $1 and user_id = $2 and left_at is null
       returning ${sessionColumns}`,
      [meetingId, target.user_id, now],
    );
    await ctx.outbox.add(
      tx,
      closed.rows.map((row) => leftEvent(row, actor)),
    );
    return { target, closed: closed.rows, owed: await ctx.outbox.pending(tx, [meetingId]) };
  });
  // Published after the commit (as every change here): an event never announces a removal that
  // rolled back. A publish that fails answers `unavailable`; the tutor's retry publishes it.
  await announce(ctx, owed);
  for (const row of closed) {
    ctx.metrics.closed.add(1, { reason: 'removed' });
    ctx.logger.info({ meetingId, sessionId: row.session_id, userId: row.user_id, byUserId: actor }, 'removed by the tutor');
  }
  return { removedUserId: target.user_id, closed: closed.map(participantFromRow) };
}

/** svc.participant.allow_rejoin: lifts the user's removal; the next join of theirs is decided as any other. */
export async function allowRejoin(ctx: Context, req: AllowRejoinRequest): Promise<MessageInitShape<typeof AllowRejoinResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const actor = valid.userId(req.userId);
  const target = valid.userId(req.targetUserId, 'targetUserId');
  const now = ctx.clock.now();
  const lifted = await ctx.db.asService(async (tx) => {
    await lockAsTutor(tx, meetingId, actor);
    const r = await tx.query(
      `update participant_removals set allowed_at = $3, allowed_by = $4
       where meeting_id = $1 and user_id = $2 and allowed_at is null`,
      [meetingId, target, now, actor],
    );
    return (r.rowCount ?? 0) > 0;
  });
  if (lifted) ctx.logger.info({ meetingId, userId: target, byUserId: actor }, 'the tutor allowed a removed user back');
  return { userId: target, wasRemoved: lifted };
}

/**
 * svc.participant.ask_unmute: a prompt to a student's muted session, never a forced unmute. The
 * rate limit is a column of the session, checked and set in one statement, so it holds across
 * replicas; the prompt goes out on core NATS (worth nothing later, so never stored), and the
 * gateway holding the target's socket hands it to that socket only.
 */
export async function askUnmute(ctx: Context, req: AskUnmuteRequest): Promise<MessageInitShape<typeof AskUnmuteResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const actor = valid.userId(req.userId);
  const targetSessionId = valid.sessionId(req.targetSessionId, 'targetSessionId');
  const now = ctx.clock.now();
  const intervalMs = ctx.config.UNMUTE_ASK_INTERVAL_SECONDS * 1000;
  await ctx.db.asService(async (tx) => {
    const meeting = await lockAsTutor(tx, meetingId, actor);
    const target = await targetOf(tx, meeting, targetSessionId);
    if (target.left_at !== null) throw new ServiceError('not_in_meeting', 'that session has left the meeting', { meetingId });
    if (!target.is_muted) throw new ServiceError('conflict', 'that session is not muted', { meetingId });
    const asked = await tx.query<{ unmute_asked_at: Date | null }>(
      `update video_participants set unmute_asked_at = $3
       where meeting_id = $1 and session_id = $2 and (unmute_asked_at is null or unmute_asked_at <= $3::timestamptz - make_interval(secs => $4))
       returning unmute_asked_at`,
      [meetingId, targetSessionId, now, intervalMs / 1000],
    );
    if (asked.rowCount === 0) {
      const last = await tx.query<{ unmute_asked_at: Date }>('select unmute_asked_at from video_participants where session_id = $1', [targetSessionId]);
      const since = now.getTime() - (last.rows[0]?.unmute_asked_at.getTime() ?? now.getTime());
      throw new ServiceError('rate_limited', `at most one ask to unmute per ${ctx.config.UNMUTE_ASK_INTERVAL_SECONDS} s`, {
        meetingId,
        retryAfterSeconds: Math.max(1, Math.ceil((intervalMs - since) / 1000)),
      });
    }
  });
  const asked = { meetingId, targetSessionId, byUserId: actor, askedAt: timestampFromDate(now) };
  try {
    publishCore(ctx.nc, subjects.tutorUnmuteAsked(meetingId), UnmuteAskedSchema, asked);
  } catch (err) {
    throw new ServiceError('unavailable', 'could not deliver the ask', { retryAfterSeconds: 2 }, { cause: err });
  }
  ctx.logger.info({ meetingId, sessionId: targetSessionId, byUserId: actor }, 'the tutor asked a student to unmute');
  return { asked };
}

/**
 * svc.participant.removals: the removals in force, read as the user, so RLS is the gate (the
 * meeting's tutor and student; a stranger learns nothing, as for a meeting that does not exist).
 */
export async function removals(ctx: Context, req: RemovalsRequest): Promise<MessageInitShape<typeof RemovalsResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const rows = await ctx.db.asUser(userId, async (tx) => {
    const visible = await tx.query('select 1 from participant_meetings where meeting_id = $1', [meetingId]);
    if (!visible.rowCount) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
    const r = await tx.query<{ user_id: string; display_name: string | null; removed_by: string; removed_at: Date }>(
      `select r.user_id, p.display_name, r.removed_by, r.removed_at
       from participant_removals r left join video_participants p on p.session_id = r.session_id
       where r.meeting_id = $1 and r.allowed_at is null
       order by r.removed_at`,
      [meetingId],
    );
    return r.rows;
  });
  return {
    removed: rows.map((r) => ({
      userId: r.user_id,
      displayName: r.display_name ?? '',
      removedByUserId: r.removed_by,
      removedAt: timestampFromDate(r.removed_at),
    })),
  };
}
