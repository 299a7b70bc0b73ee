import type { JsonValue, MessageInitShape } from '@bufbuild/protobuf';
import { pgErrorCode, pgErrors, ServiceError, ServiceUnavailableError } from '@lessoncall/kit';
import { generateSessionId, type IceServer, type JoinRequest, type JoinResponseSchema, sessionIdPattern } from '@lessoncall/proto';
import type { Context } from './context';
import { announce, joinedEvent, leftEvent } from './events';
import { hashResumeToken, mintResumeToken, sessionIdForJoinKey } from './resume-token';
import { maxSessionsFor, meetingOf, snapshotParams } from './projection';
import { participantFromRow, type SessionRow, sessionColumns } from './rows';
import { removedError } from './tutor-controls';
import * as valid from './validate';

type JoinReply = MessageInitShape<typeof JoinResponseSchema>;

interface Ice {
  iceServers: IceServer[];
  iceTtlSeconds: number;
}

/**
 * svc.participant.join: a new session, or the resume of a live one. The user id is the one the
 * gateway took from the access token, never a client's claim.
 */
export async function join(ctx: Context, req: JoinRequest): Promise<JoinReply> {
  const started = performance.now();
  let outcome = 'internal';
  try {
    const reply = req.resumeSessionId || req.resumeToken ? await resume(ctx, req) : await joinAnew(ctx, req);
    outcome = reply.resumed ? 'resumed' : 'joined';
    return reply;
  } catch (err) {
    if (err instanceof ServiceError) outcome = err.code;
    throw err;
  } finally {
    ctx.metrics.joins.add(1, { outcome });
    ctx.metrics.joinSeconds.record((performance.now() - started) / 1000, { outcome });
  }
}

async function joinAnew(ctx: Context, req: JoinRequest): Promise<JoinReply> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const gatewayId = valid.gatewayId(req.gatewayId);
  const joinKey = valid.joinKey(req.joinKey);
  const displayName = req.displayName.trim();
  if (displayName.length > ctx.config.DISPLAY_NAME_MAX_LENGTH) {
    throw new ServiceError('invalid_request', `displayName is longer than ${ctx.config.DISPLAY_NAME_MAX_LENGTH} characters`, { field: 'displayName' });
  }

  // Membership, passcode (with lockout), status and join window are the meeting service's.
  const verified = await ctx.meetings.verifyJoin({
    meetingId,
    userId,
    passcode: req.passcode,
    clientKey: req.clientKey,
  });
  const meeting = verified.meeting;
  const userType = verified.userType;
  if (!meeting || (userType !== 'tutor' && userType !== 'student')) {
    throw new Error(`svc.meeting.verify_join answered without a meeting or user type (${userType})`);
  }

  // Asked now, answered while the session is recorded.
  const ice = iceServers(ctx, userId, meetingId);

  // A keyed join's session id follows from its key, so that its retry cannot make a second one.
  const sessionId = joinKey ? sessionIdForJoinKey(ctx.config.RESUME_TOKEN_SECRET, meetingId, userId, joinKey) : generateSessionId();
  const resumeToken = mintResumeToken(ctx.config.RESUME_TOKEN_SECRET, sessionId);
  const now = ctx.clock.now();
  // The session as participant_join inserts it, so that its participant.joined goes into the
  // outbox in the same statement.
  const expected: SessionRow = {
    session_id: sessionId,
    meeting_id: meetingId,
    user_id: userId,
    user_type: userType,
    display_name: displayName || (userType === 'tutor' ? meeting.tutorName : userId === meeting.studentId ? meeting.studentName : ''),
    joined_at: now,
    left_at: null,
    left_reason: null,
    is_muted: req.audioMuted,
    camera_off: req.cameraOff,
    connected: true,
    disconnected_at: null,
    reconnects: 0,
    resume_token_hash: hashResumeToken(resumeToken),
    gateway_id: gatewayId,
  };
  const joined = joinedEvent(expected, now);
  // One statement, one round trip (see participant_join): the owner's answer goes into our
  // projection first, so a join that beats meeting.created (or a later event) to this service
  // still finds its meeting and an older answer never overwrites a newer event; the projection's
  // row lock then serialises the joins of one meeting (so the mesh limit holds under
  // concurrency) and orders them against the meeting's end: meeting.ended either sees this
  // session when it closes the sessions, or this join sees the meeting over. participant.joined
  // is written to the outbox by the same statement: a refused join raises and writes nothing.
  let live: SessionRow[];
  try {
    const r = await ctx.db.autocommit.query<SessionRow>(
      `with live as (
         select * from participant_join($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
       ), owed as (
         insert into video_participant_outbox (event_id, meeting_id, subject, body, event_time)
         select $19, $1, $20, $21, $14 from live where session_id = $12
       )
       select ${sessionColumns} from live order by joined_at, session_id`,
      [
        ...snapshotParams(meeting),
        userId,
        userType,
        expected.display_name,
        sessionId,
        expected.resume_token_hash,
        now,
        req.audioMuted,
        req.cameraOff,
        gatewayId,
        maxSessionsFor(meeting, ctx.config.MAX_SESSIONS_PER_MEETING),
        joined.id,
        joined.subject,
        joined.body,
      ],
    );
    live = r.rows;
  } catch (err) {
    if (joinKey && pgErrorCode(err) === pgErrors.uniqueViolation) {
      return { ...(await rejoin(ctx, { meetingId, userId, sessionId, gatewayId })), resumeToken, userType, meeting, ...(await ice), resumed: false };
    }
    throw joinRefusal(err, meetingId, maxSessionsFor(meeting, ctx.config.MAX_SESSIONS_PER_MEETING)) ?? err;
  }
  const session = live.find((row) => row.session_id === sessionId);
  if (!session) throw new Error(`participant_join returned the live sessions of ${meetingId} without the new one`);
  const log = ctx.logger.child({ meetingId, sessionId, userId, userType });
  if (joinedEvent(session, now).body !== joined.body)
    log.error({ stored: participantFromRow(session), announced: joined.body }, 'participant.joined announced another session than the one stored');

  try {
    await announce(ctx, [joined]);
  } catch (err) {
    if (joinKey) {
      // The client's retry with the same key gets this session and publishes what it owes.
      log.warn({ err }, 'participant.joined not published; the session waits for the retry of its key');
      throw err;
    }
    // Nobody learnt of the session and no retry can find it: close it rather than leave a live
    // row no peer will ever see.
    log.error({ err }, 'participant.joined not published; closing the session');
    await abandon(ctx, session).catch((e) => log.error({ err: e }, 'could not close the unannounced session'));
    throw err;
  }
  log.info('joined');
  return {
    sessionId,
    resumeToken,
    userType,
    meeting,
    participants: live.map(participantFromRow),
    ...(await ice),
    resumed: false,
  };
}

/**
 * A keyed join repeated (its answer was lost: a gateway timeout, a NATS node gone with the
 * reply): the session the first one made, as that one would have answered, and whatever the
 * meeting still owes published now. Nothing is counted as a reconnect. A key whose session has
 * ended since is refused: the client joins again with a new key.
 */
async function rejoin(
  ctx: Context,
  s: { meetingId: string; userId: string; sessionId: string; gatewayId: string | null },
): Promise<{ sessionId: string; participants: JoinReply['participants'] }> {
  const found = await ctx.db.asService(async (tx) => {
    const mine = await tx.query<{ session_id: string }>(
      `update video_participants set gateway_id = coalesce($4, gateway_id), last_seen_at = $5
       where session_id = $1 and meeting_id = $2 and user_id = $3 and left_at is null
       returning session_id`,
      [s.sessionId, s.meetingId, s.userId, s.gatewayId, ctx.clock.now()],
    );
    if (!mine.rows[0]) return undefined;
    const live = await tx.query<SessionRow>(
      `select ${sessionColumns} from video_participants where meeting_id = $1 and left_at is null order by joined_at, session_id`,
      [s.meetingId],
    );
    return { live: live.rows, owed: await ctx.outbox.pending(tx, [s.meetingId]) };
  });
  if (!found) {
    throw new ServiceError('conflict', 'the session this join key made has ended; join again with a new key', { field: 'joinKey', meetingId: s.meetingId });
  }
  await announce(ctx, found.owed);
  ctx.logger.info({ meetingId: s.meetingId, sessionId: s.sessionId, userId: s.userId }, 'join repeated with its key; same session');
  return { sessionId: s.sessionId, participants: found.live.map(participantFromRow) };
}

/** participant_join's refusals (their own SQLSTATEs) as the service's errors. */
function joinRefusal(err: unknown, meetingId: string, max: number): ServiceError | undefined {
  switch (pgErrorCode(err)) {
    case 'LC001':
      return new ServiceError('meeting_ended', 'the meeting has ended', { meetingId });
    case 'LC002':
      return new ServiceError('meeting_cancelled', 'the meeting was cancelled', { meetingId });
    case 'LC003':
      return new ServiceError('meeting_full', `the meeting already has ${max} participants`, { meetingId });
    case 'LC005':
      return removedError(meetingId);
    default:
      return undefined;
  }
}

/**
 * Closes a session whose participant.joined did not go out. Both events stay owed: the relay
 * publishes joined, then left, so the booking platform sees a session that came and went rather
 * than half of one (and if joined did reach the stream, its ack lost on the way back, left follows it).
 */
async function abandon(ctx: Context, session: SessionRow): Promise<void> {
  await ctx.db.asService(async (tx) => {
    const closed = await tx.query<SessionRow>(
      `update video_participants set left_at = $2, left_reason = 'left'
       where session_id = $1 and left_at is null returning ${sessionColumns}`,
      [session.session_id, ctx.clock.now()],
    );
    await ctx.outbox.add(
      tx,
      closed.rows.map((row) => leftEvent(row)),
    );
  });
}

/**
 * A client back after a dropped socket (or on another gateway) keeps its session: same session id,
 * nothing published, peers keep their connections. The resume token is the credential; a session
 * that was closed meanwhile (timeout, ended) cannot be resumed and the client joins anew.
 */
async function resume(ctx: Context, req: JoinRequest): Promise<JoinReply> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const gatewayId = valid.gatewayId(req.gatewayId);
  const sessionId = req.resumeSessionId;
  const rejected = () => new ServiceError('resume_rejected', 'this session cannot be resumed; join again', { meetingId });
  if (!sessionIdPattern.test(sessionId) || req.resumeToken === '') throw rejected();

  const ice = iceServers(ctx, userId, meetingId);
  // One statement, one round trip (see participant_resume).
  let live: Array<SessionRow & { meeting: JsonValue }>;
  try {
    const r = await ctx.db.autocommit.query<SessionRow & { meeting: JsonValue }>(
      `select ${sessionColumns}, meeting from participant_resume($1, $2, $3, $4, $5, $6)`,
      [sessionId, meetingId, userId, hashResumeToken(req.resumeToken), ctx.clock.now(), gatewayId],
    );
    live = r.rows;
  } catch (err) {
    if (pgErrorCode(err) === 'LC004') throw rejected();
    throw joinRefusal(err, meetingId, ctx.config.MAX_SESSIONS_PER_MEETING) ?? err;
  }
  const session = live.find((row) => row.session_id === sessionId);
  if (!session) throw new Error(`participant_resume returned the live sessions of ${meetingId} without the resumed one`);
  const meeting = meetingOf(session);
  ctx.logger.info({ meetingId, sessionId, userId, reconnects: session.reconnects }, 'resumed');
  return {
    sessionId,
    resumeToken: req.resumeToken,
    userType: session.user_type,
    meeting,
    participants: live.map(participantFromRow),
    ...(await ice),
    resumed: true,
  };
}

/**
 * TURN credentials for the join. A TURN service that does not answer must not fail a join that
 * is otherwise fine: the client gets no ICE servers (host candidates still connect on one network)
 * and asks svc.turn.credentials again through the gateway. Never rejects.
 */
async function iceServers(ctx: Context, userId: string, meetingId: string): Promise<Ice> {
  try {
    const r = await ctx.turn.turnCredentials({ userId, meetingId });
    return { iceServers: r.iceServers, iceTtlSeconds: r.ttlSeconds };
  } catch (err) {
    const reason = err instanceof ServiceUnavailableError ? err.reason : err instanceof ServiceError ? err.code : 'error';
    ctx.metrics.turnFallbacks.add(1, { reason });
    ctx.logger.warn({ err, meetingId, reason }, 'no TURN credentials; joining without ICE servers');
    return { iceServers: [], iceTtlSeconds: 0 };
  }
}
