import type { MessageInitShape } from '@bufbuild/protobuf';
import { invalidRequest, type OutboxEvent, ServiceError } from '@lessoncall/kit';
import type { LeaveRequest, LeaveResponseSchema, MuteRequest, MuteResponseSchema, PresenceAckSchema, PresenceReport } from '@lessoncall/proto';
import type { Context } from './context';
import { announce, leftEvent, muteChangedEvent } from './events';
import { projectedMeeting } from './projection';
import { participantFromRow, type SessionRow, sessionColumns } from './rows';
import * as valid from './validate';

/**
 * svc.participant.leave: closes the caller's own session. Idempotent: leaving a closed session
 * answers it as it is, and publishes whatever its meeting still owes (its participant.left, if
 * the bus did not take it the first time).
 */
export async function leave(ctx: Context, req: LeaveRequest): Promise<MessageInitShape<typeof LeaveResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const sessionId = valid.sessionId(req.sessionId);
  const userId = valid.userId(req.userId);
  const now = ctx.clock.now();
  const { row, closedNow, owed } = await ctx.db.asService(async (tx) => {
    const closed = await tx.query<SessionRow>(
      `update video_participants set left_at = $4, left_reason = 'left'
       where session_id = $1 and meeting_id = $2 and user_id = $3 and left_at is null
       returning ${sessionColumns}`,
      [sessionId, meetingId, userId, now],
    );
    if (closed.rows[0]) {
      await ctx.outbox.add(tx, [leftEvent(closed.rows[0])]);
      return { row: closed.rows[0], closedNow: true, owed: await ctx.outbox.pending(tx, [meetingId]) };
    }
    const found = await tx.query<SessionRow>(`select ${sessionColumns} from video_participants where session_id = $1 and meeting_id = $2 and user_id = $3`, [
      sessionId,
      meetingId,
      userId,
    ]);
    // Someone else's session is as unknown to the caller as one that does not exist.
    if (!found.rows[0]) throw new ServiceError('session_not_found', 'no such session of yours in this meeting', { meetingId });
    return { row: found.rows[0], closedNow: false, owed: await ctx.outbox.pending(tx, [meetingId]) };
  });
  if (closedNow) {
    ctx.metrics.closed.add(1, { reason: 'left' });
    ctx.logger.info({ meetingId, sessionId, userId }, 'left');
  }
  await announce(ctx, owed);
  return { participant: participantFromRow(row) };
}

/**
 * svc.participant.mute: audio mute or camera off. A participant changes their own sessions
 * through row-level security (the policy lets a user update is_muted/camera_off of their own live
 * rows). Host control: the meeting's tutor may mute a student's audio and turn a student's camera
 * off — never unmute or turn a camera on (asking to unmute is a prompt, svc.participant.ask_unmute);
 * a student can never change the tutor's state. The student may turn the camera on again: there
 * is no lock, because in a one-to-one lesson the tutor's answer to a student who will not comply
 * is to remove them, and a lock would be a second state to keep right in every client.
 */
export async function mute(ctx: Context, req: MuteRequest): Promise<MessageInitShape<typeof MuteResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const actor = valid.userId(req.userId);
  if (req.kind !== 'audio' && req.kind !== 'video') throw invalidRequest('kind', 'kind must be audio or video');
  const kind = req.kind;
  const now = ctx.clock.now();
  /** The events of the change, written in its transaction and published once it commits. */
  let events: OutboxEvent[] = [];
  const mutedEvents = (changed: SessionRow[]) => {
    events = changed.map((row) => muteChangedEvent(row, kind, actor, now));
    return events;
  };
  const column = kind === 'audio' ? 'is_muted' : 'camera_off';
  const targetSession = req.targetSessionId ? valid.sessionId(req.targetSessionId, 'targetSessionId') : undefined;
  const targetUser = req.targetUserId ? valid.userId(req.targetUserId, 'targetUserId') : undefined;
  const actingSession = req.sessionId ? valid.sessionId(req.sessionId) : undefined;
  if (!targetSession && !targetUser && !actingSession) throw invalidRequest('sessionId', 'which session to change: sessionId or a target');

  // Read (and, for one's own sessions, write) as the user: RLS hides the meeting from strangers.
  const decided = await ctx.db.asUser(actor, async (tx) => {
    const meeting = await projectedMeeting(tx, meetingId);
    if (!meeting) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
    const bySession = targetSession ?? (targetUser ? undefined : actingSession);
    const targets = bySession
      ? await tx.query<SessionRow>(`select ${sessionColumns} from video_participants where meeting_id = $1 and session_id = $2`, [meetingId, bySession])
      : await tx.query<SessionRow>(`select ${sessionColumns} from video_participants where meeting_id = $1 and user_id = $2 and left_at is null`, [
          meetingId,
          targetUser,
        ]);
    if (targets.rows.length === 0) {
      if (!bySession) throw new ServiceError('not_in_meeting', 'that user has no live session in this meeting', { meetingId });
      throw new ServiceError('session_not_found', 'no such session in this meeting', { meetingId });
    }
    if (targets.rows.some((t) => t.left_at !== null)) throw new ServiceError('not_in_meeting', 'that session has left the meeting', { meetingId });
    if (targets.rows.every((t) => t.user_id === actor)) {
      const updated = await tx.query<SessionRow>(
        `update video_participants set ${column} = $3 where meeting_id = $1 and session_id = any($2) returning ${sessionColumns}`,
        [meetingId, targets.rows.map((t) => t.session_id), req.muted],
      );
      // The policy only lets live rows change: one closed between the read and the write.
      if (updated.rowCount !== targets.rows.length) throw new ServiceError('not_in_meeting', 'that session has left the meeting', { meetingId });
      // The events are the system's to write (no user may touch an outbox), in this transaction:
      // the change went through the user's policy, its announcement cannot be lost apart from it.
      await tx.query('set local role service_role');
      await ctx.outbox.add(tx, mutedEvents(updated.rows));
      return { kind: 'own' as const, rows: updated.rows };
    }
    const hostMute = meeting.tutor_id === actor && req.muted && targets.rows.every((t) => t.user_type === 'student');
    if (!hostMute) throw new ServiceError('forbidden', "only the tutor may mute a student or turn a student's camera off", { meetingId });
    return { kind: 'host' as const, sessionIds: targets.rows.map((t) => t.session_id) };
  });

  let rows: SessionRow[];
  if (decided.kind === 'own') {
    rows = decided.rows;
  } else {
    rows = await ctx.db.asService(async (tx) => {
      const updated = await tx.query<SessionRow>(
        `update video_participants set ${column} = true where meeting_id = $1 and session_id = any($2) and left_at is null returning ${sessionColumns}`,
        [meetingId, decided.sessionIds],
      );
      if (updated.rows.length === 0) throw new ServiceError('not_in_meeting', 'that session has left the meeting', { meetingId });
      await ctx.outbox.add(tx, mutedEvents(updated.rows));
      return updated.rows;
    });
  }
  await announce(ctx, events);
  for (const row of rows) {
    ctx.logger.info({ meetingId, sessionId: row.session_id, kind, muted: req.muted, byUserId: actor }, 'media state changed');
  }
  return { participant: participantFromRow(rows[0]!) };
}

/**
 * svc.participant.presence, from the gateway holding the socket. A dropped socket is not a
 * leave: it starts the grace period, which the sweep ends. A report from a gateway that no
 * longer holds the session (the client resumed elsewhere) is ignored.
 */
export async function presence(ctx: Context, req: PresenceReport): Promise<MessageInitShape<typeof PresenceAckSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const sessionId = valid.sessionId(req.sessionId);
  const gatewayId = valid.gatewayId(req.gatewayId);
  const now = ctx.clock.now();
  // Every statement answers one row while the session is live, whether or not it changed it.
  let sql: string;
  switch (req.state) {
    case 'connected':
      sql = `update video_participants
               set connected = true, disconnected_at = null, last_seen_at = $3,
                   reconnects = reconnects + (case when connected then 0 else 1 end),
                   gateway_id = coalesce($4, gateway_id)
             where session_id = $1 and meeting_id = $2 and left_at is null
             returning connected`;
      break;
    case 'disconnected':
      sql = `update video_participants
               set connected = false,
                   disconnected_at = case when connected then $3 else disconnected_at end
             where session_id = $1 and meeting_id = $2 and left_at is null
               and ($4::text is null or gateway_id is null or gateway_id = $4)
             returning connected`;
      break;
    case 'heartbeat':
      sql = `update video_participants set last_seen_at = $3
             where session_id = $1 and meeting_id = $2 and left_at is null
               and ($4::text is null or gateway_id is null or gateway_id = $4)
             returning connected`;
      break;
    default:
      throw invalidRequest('state', 'state must be connected, disconnected or heartbeat');
  }
  const { live, applied } = await ctx.db.asService(async (tx) => {
    const r = await tx.query(sql, [sessionId, meetingId, now, gatewayId]);
    if (r.rowCount) return { live: true, applied: true };
    if (req.state === 'connected') return { live: false, applied: false };
    // Not applied: closed, unknown, or held by another gateway (still live then).
    const s = await tx.query('select 1 from video_participants where session_id = $1 and meeting_id = $2 and left_at is null', [sessionId, meetingId]);
    return { live: (s.rowCount ?? 0) > 0, applied: false };
  });
  if (req.state === 'disconnected') {
    if (applied) ctx.logger.info({ meetingId, sessionId, gatewayId }, 'socket lost; grace period started');
    else if (live) ctx.logger.info({ meetingId, sessionId, gatewayId }, 'socket lost on a gateway that no longer holds the session; ignored');
  }
  return { live };
}
