import { randomUUID } from 'node:crypto';
import { eventSource, type OutboxEvent, type OutboxOptions, outboxEvent, ServiceError } from '@lessoncall/kit';
import { MuteChangedSchema, ParticipantJoinedSchema, ParticipantLeftSchema, subjects } from '@lessoncall/proto';
import type { Context } from './context';
import { participantFromRow, type SessionRow } from './rows';

/**
 * The participant service's outbox: participant.joined, participant.left and mute.changed are
 * written in the transaction of the change they announce and published after it commits (kit's
 * Outbox, as the meeting service publishes meeting.*). What a crash or a bus that did not answer
 * leaves behind goes out with the next change of the same meeting, or with the sweep's relay.
 */
export const outboxOptions: OutboxOptions = {
  table: 'video_participant_outbox',
  source: eventSource('participant'),
  relayLockKey: '7813011523633099896', // 'lcpartob' in ASCII
};

/** participant.joined, once per session: the ce-id is derived from the session id. */
export function joinedEvent(row: SessionRow, time: Date): OutboxEvent {
  return outboxEvent(
    `participant.joined:${row.session_id}`,
    row.meeting_id,
    subjects.participantJoined(row.meeting_id),
    ParticipantJoinedSchema,
    { participant: participantFromRow(row) },
    time,
  );
}

/** participant.left, once per session whatever closed it (left, timeout, ended, removed by `removedBy`). */
export function leftEvent(row: SessionRow, removedBy = ''): OutboxEvent {
  if (!row.left_at) throw new Error(`participant.left of session ${row.session_id}, which is live`);
  return outboxEvent(
    `participant.left:${row.session_id}`,
    row.meeting_id,
    subjects.participantLeft(row.meeting_id),
    ParticipantLeftSchema,
    { participant: participantFromRow(row), reason: row.left_reason ?? '', removedByUserId: removedBy },
    row.left_at,
  );
}

/** mute.changed: every change is an event of its own. */
export function muteChangedEvent(row: SessionRow, kind: 'audio' | 'video', byUserId: string, time: Date): OutboxEvent {
  return outboxEvent(
    `mute.changed:${randomUUID()}`,
    row.meeting_id,
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
    time,
  );
}

/**
 * Publishes what committed changes owe. A bus that does not answer is `unavailable`, which the
 * caller may retry: the change is kept, and the retry (or the sweep's relay) publishes the same
 * events under the same ids.
 */
export async function announce(ctx: Context, events: readonly OutboxEvent[]): Promise<void> {
  try {
    await ctx.outbox.publish(events);
  } catch (err) {
    throw new ServiceError(
      'unavailable',
      `could not publish ${[...new Set(events.map((e) => e.subject.split('.').slice(0, 2).join('.')))].join(', ')}`,
      { retryAfterSeconds: 2 },
      { cause: err },
    );
  }
}
