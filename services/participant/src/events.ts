import { MuteChangedSchema, ParticipantJoinedSchema, ParticipantLeftSchema, subjects } from '@lessoncall/proto';
import { defaultDuplicateWindowMs, eventSource as kitEventSource, publishEvent, ServiceError } from '@lessoncall/kit';
import type { Context } from './context';
import { participantFromRow, type SessionRow } from './rows';

export const eventSource = kitEventSource('participant');

/**
 * JetStream drops a re-published event with the same ce-id inside this window (PARTICIPANTS is
 * created with kit's default). Re-publishing a session's left event is safe inside it, and only
 * inside it.
 */
export const duplicateWindowMs = defaultDuplicateWindowMs;

/** A failed publish is the bus being unavailable, which the caller may retry. */
async function publish(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw new ServiceError('unavailable', `could not publish ${what}`, { retryAfterSeconds: 2 }, { cause: err });
  }
}

/** participant.joined, once per session: the ce-id is derived from the session id. */
export function publishJoined(ctx: Context, row: SessionRow): Promise<void> {
  return publish('participant.joined', () =>
    publishEvent(
      ctx.js,
      subjects.participantJoined(row.meeting_id),
      ParticipantJoinedSchema,
      { participant: participantFromRow(row) },
      { id: `participant.joined:${row.session_id}`, source: eventSource, time: ctx.clock.now() },
    ),
  );
}

/** participant.left, once per session whatever closed it (left, timeout, ended, removed by `removedBy`). */
export function publishLeft(ctx: Context, row: SessionRow, removedBy = ''): Promise<void> {
  return publish('participant.left', () =>
    publishEvent(
      ctx.js,
      subjects.participantLeft(row.meeting_id),
      ParticipantLeftSchema,
      { participant: participantFromRow(row), reason: row.left_reason ?? '', removedByUserId: removedBy },
      { id: `participant.left:${row.session_id}`, source: eventSource, time: row.left_at ?? ctx.clock.now() },
    ),
  );
}

export function publishMuteChanged(ctx: Context, row: SessionRow, kind: 'audio' | 'video', byUserId: string): Promise<void> {
  return publish('mute.changed', () =>
    publishEvent(
      ctx.js,
      subjects.muteChanged(row.meeting_id),
      MuteChangedSchema,
      {
        meetingId: row.meeting_id,
        sessionId: row.session_id,
        userId: row.user_id,
        kind,
        muted: kind === 'audio' ? row.is_muted : row.camera_off,
        byUserId,
      },
      { source: eventSource, time: ctx.clock.now() },
    ),
  );
}
