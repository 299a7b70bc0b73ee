import { type Clock, type Db, type Logger, type NatsConnection, request } from '@lessoncall/kit';
import { type Attendance, AttendanceRequestSchema, AttendanceResponseSchema, rpc } from '@lessoncall/proto';
import type { EndReason, MeetingEvents } from './events';
import type { MeetingMetrics } from './metrics';
import { meetingColumns, type MeetingRow } from './model';
import type { Outbox } from './outbox';

export interface LifecycleDeps {
  db: Db;
  nc: NatsConnection;
  outbox: Outbox;
  events: MeetingEvents;
  clock: Clock;
  logger: Logger;
  metrics: MeetingMetrics;
  /** After the scheduled end, how long a meeting stays joinable before the sweep closes it. */
  graceMs: number;
  attendanceTimeoutMs: number;
  sweepBatchSize: number;
  outboxRelayAfterMs: number;
}

export interface SweepResult {
  closed: number;
  relayed: number;
}

/** pending → active → completed, each transition announced once. */
export class Lifecycle {
  readonly #d: LifecycleDeps;

  constructor(deps: LifecycleDeps) {
    this.#d = deps;
  }

  /** The first participant.joined starts the meeting. */
  async participantJoined(meetingId: string, joinedAt: Date | undefined): Promise<void> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    const now = clock.now();
    const { started, toPublish } = await db.asService(async (tx) => {
      const { rows } = await tx.query<MeetingRow>(
        `update video_meetings set status = 'active', started_at = $2
         where meeting_id = $1 and status = 'pending' returning ${meetingColumns}`,
        [meetingId, joinedAt ?? now],
      );
      const row = rows[0];
      if (row) await outbox.add(tx, [events.started(row, now)]);
      return { started: row !== undefined, toPublish: await outbox.pending(tx, [meetingId]) };
    });
    await outbox.publish(toPublish);
    if (started) {
      metrics.transitions.inc({ event: 'started', reason: 'participant_joined' });
      logger.info({ meetingId }, 'meeting started');
    }
  }

  /** When the last participant leaves after the scheduled end, the lesson is over. */
  async participantLeft(meetingId: string): Promise<void> {
    const { db, clock } = this.#d;
    const now = clock.now();
    const live = await db.asService(async (tx) => {
      const { rows } = await tx.query<{ status: string; scheduled_end: Date; live: number }>(
        `select m.status, m.scheduled_end,
           (select count(*)::int from video_participants p where p.meeting_id = m.meeting_id and p.left_at is null) as live
         from video_meetings m where m.meeting_id = $1`,
        [meetingId],
      );
      return rows[0];
    });
    if (live?.status !== 'active' || now < live.scheduled_end || live.live > 0) return;
    await this.end(meetingId, 'last_participant_left');
  }

  /**
   * Completes a pending or active meeting and publishes meeting.ended with the attendance the
   * participant service reports (or without, if it does not answer in time). Returns the
   * meeting as it is afterwards; a meeting already closed is left as it is.
   */
  async end(meetingId: string, reason: EndReason): Promise<MeetingRow | undefined> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    const attendance = await this.#attendance(meetingId);
    const now = clock.now();
    const { row, ended, toPublish } = await db.asService(async (tx) => {
      const { rows } = await tx.query<MeetingRow>(
        `update video_meetings set status = 'completed', ended_at = $2, end_reason = $3
         where meeting_id = $1 and status in ('pending', 'active') returning ${meetingColumns}`,
        [meetingId, now, reason],
      );
      let row = rows[0];
      if (row) await outbox.add(tx, [events.ended(row, reason, attendance, now)]);
      else row = (await tx.query<MeetingRow>(`select ${meetingColumns} from video_meetings where meeting_id = $1`, [meetingId])).rows[0];
      return { row, ended: rows.length > 0, toPublish: await outbox.pending(tx, [meetingId]) };
    });
    await outbox.publish(toPublish);
    if (ended) {
      metrics.transitions.inc({ event: 'ended', reason });
      logger.info({ meetingId, reason, withAttendance: attendance !== undefined }, 'meeting ended');
    }
    return row;
  }

  /**
   * Closes meetings whose join window has passed and republishes events stranded by a crash.
   * Safe on every replica at once: rows are claimed with SKIP LOCKED and every update is
   * guarded by the status it expects.
   */
  async sweep(): Promise<SweepResult> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    const now = clock.now();
    const cutoff = new Date(now.getTime() - this.#d.graceMs);
    const { closed, toPublish } = await db.asService(async (tx) => {
      const { rows: due } = await tx.query<{ meeting_id: string }>(
        `select meeting_id from video_meetings
         where status in ('pending', 'active') and scheduled_end <= $1
         order by scheduled_end limit $2 for update skip locked`,
        [cutoff, this.#d.sweepBatchSize],
      );
      if (due.length === 0) return { closed: [] as MeetingRow[], toPublish: [] };
      const attendance = await Promise.all(due.map((d) => this.#attendance(d.meeting_id)));
      const { rows } = await tx.query<MeetingRow>(
        `update video_meetings set status = 'completed', ended_at = $2, end_reason = 'window_closed'
         where meeting_id = any($1::text[]) and status in ('pending', 'active') returning ${meetingColumns}`,
        [due.map((d) => d.meeting_id), now],
      );
      const byId = new Map(due.map((d, i) => [d.meeting_id, attendance[i]]));
      const fresh = rows.map((r) => events.ended(r, 'window_closed', byId.get(r.meeting_id), now));
      await outbox.add(tx, fresh);
      return {
        closed: rows,
        toPublish: await outbox.pending(
          tx,
          rows.map((r) => r.meeting_id),
        ),
      };
    });
    await outbox.publish(toPublish);
    for (const r of closed) {
      metrics.transitions.inc({ event: 'ended', reason: 'window_closed' });
      logger.info({ meetingId: r.meeting_id, reason: 'window_closed' }, 'meeting ended');
    }
    const relayed = await outbox.relay(new Date(now.getTime() - this.#d.outboxRelayAfterMs), this.#d.sweepBatchSize);
    return { closed: closed.length, relayed };
  }

  async #attendance(meetingId: string): Promise<Attendance | undefined> {
    try {
      const res = await request(this.#d.nc, rpc.participantAttendance, AttendanceRequestSchema, { meetingId, actorIsService: true }, AttendanceResponseSchema, {
        timeoutMs: this.#d.attendanceTimeoutMs,
      });
      return res.attendance;
    } catch (err) {
      this.#d.metrics.attendanceUnavailable.inc();
      this.#d.logger.warn({ meetingId, err: (err as Error).message }, 'no attendance from the participant service; meeting.ended goes without it');
      return undefined;
    }
  }
}
