import { type Clock, type Db, type Logger, type NatsConnection, client, type Outbox, type ServiceClient } from '@lessoncall/kit';
import { type Attendance, ParticipantService } from '@lessoncall/proto';
import type { EndReason, MeetingEvents, Missing } from './events';
import type { MeetingMetrics } from './metrics';
import { meetingColumns, type MeetingRow } from './model';

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
  /** A meeting this long after its scheduled start that its student (or tutor) never joined is a no-show. */
  noShowAfterMs: number;
  sweepBatchSize: number;
  outboxRelayAfterMs: number;
}

export interface SweepResult {
  closed: number;
  noShows: number;
  relayed: number;
}

/** pending → active → completed, each transition announced once. */
export class Lifecycle {
  readonly #d: LifecycleDeps;
  /** Who is live and who attended: the participant service says, within attendanceTimeoutMs. */
  readonly #participants: ServiceClient<typeof ParticipantService>;

  constructor(deps: LifecycleDeps) {
    this.#d = deps;
    this.#participants = client(deps.nc, ParticipantService, { timeoutMs: deps.attendanceTimeoutMs });
  }

  /** The first participant.joined starts the meeting. */
  async participantJoined(meetingId: string, joinedAt: Date | undefined): Promise<void> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    // Every join after the first finds the meeting started (or no such meeting): one read and
    // no transaction, since on the hour these are most of the stream. Events of the meeting a
    // crash left in the outbox are the sweep relay's to publish.
    const current = await db.autocommit.query<{ status: string }>('select status from video_meetings where meeting_id = $1', [meetingId]);
    if (current.rows[0]?.status !== 'pending') return;
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
      metrics.transitions.add(1, { event: 'started', reason: 'participant_joined' });
      logger.info({ meetingId }, 'meeting started');
    }
  }

  /**
   * When the last participant leaves after the scheduled end, the lesson is over. Who is still
   * there is the participant service's to say (svc.participant.live_sessions); if it does not
   * answer, the request's error fails the event, which is redelivered with back-off (and the
   * sweep closes the meeting at the end of its window in any case).
   */
  async participantLeft(meetingId: string): Promise<void> {
    const { db, clock } = this.#d;
    const now = clock.now();
    const meeting = await db.asService(async (tx) => {
      const { rows } = await tx.query<{ status: string; scheduled_end: Date }>('select status, scheduled_end from video_meetings where meeting_id = $1', [
        meetingId,
      ]);
      return rows[0];
    });
    if (meeting?.status !== 'active' || now < meeting.scheduled_end) return;
    const live = await this.#participants.liveSessions({ meetingId });
    if (live.sessions.length > 0) return;
    await this.end(meetingId, 'last_participant_left');
  }

  /**
   * Completes a pending or active meeting and publishes meeting.ended with the attendance the
   * participant service reports (or without, if it does not answer in time). Returns the
   * meeting as it is afterwards; a meeting already closed is left as it is.
   */
  async end(meetingId: string, reason: EndReason): Promise<MeetingRow | undefined> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    const open = await db.asService(
      async (tx) =>
        (
          await tx.query<{ tutor_id: string; student_id: string }>(
            `select tutor_id, student_id from video_meetings where meeting_id = $1 and status in ('pending', 'active')`,
            [meetingId],
          )
        ).rows[0],
    );
    // A meeting already closed (or unknown) needs no attendance: the update below leaves it as it is.
    const attendance = open ? await this.#attendance(meetingId, { tutorId: open.tutor_id, studentId: open.student_id }) : undefined;
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
      metrics.transitions.add(1, { event: 'ended', reason });
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
      const { rows: due } = await tx.query<{ meeting_id: string; tutor_id: string; student_id: string }>(
        `select meeting_id, tutor_id, student_id from video_meetings
         where status in ('pending', 'active') and scheduled_end <= $1
         order by scheduled_end limit $2 for update skip locked`,
        [cutoff, this.#d.sweepBatchSize],
      );
      if (due.length === 0) return { closed: [] as MeetingRow[], toPublish: [] };
      const attendance = await Promise.all(due.map((d) => this.#attendance(d.meeting_id, { tutorId: d.tutor_id, studentId: d.student_id })));
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
      metrics.transitions.add(1, { event: 'ended', reason: 'window_closed' });
      logger.info({ meetingId: r.meeting_id, reason: 'window_closed' }, 'meeting ended');
    }
    const noShows = await this.#noShows(now);
    const relayed = await outbox.relay(new Date(now.getTime() - this.#d.outboxRelayAfterMs), this.#d.sweepBatchSize);
    return { closed: closed.length, noShows, relayed };
  }

  /**
   * meeting.no_show, once per meeting, for open meetings NO_SHOW_AFTER_MINUTES past their start
   * that their student (or tutor) never joined, by the participant service's attendance. The
   * attendance is asked outside any transaction (no row lock waits on another service); the
   * decision is then recorded with a guarded update, so of replicas sweeping at once exactly one
   * records it and writes the event to the outbox in the same transaction. A meeting whose
   * attendance does not come is left undecided for the next sweep.
   */
  async #noShows(now: Date): Promise<number> {
    const { db, outbox, events, logger, metrics } = this.#d;
    const cutoff = new Date(now.getTime() - this.#d.noShowAfterMs);
    const { rows: due } = await db.asService((tx) =>
      tx.query<{ meeting_id: string; tutor_id: string; student_id: string; student_ids: string[] }>(
        `select meeting_id, tutor_id, student_id, student_ids::text[] from video_meetings
         where no_show_checked_at is null and status in ('pending', 'active') and scheduled_start <= $1
         order by scheduled_start limit $2`,
        [cutoff, this.#d.sweepBatchSize],
      ),
    );
    if (due.length === 0) return 0;
    const decided = new Map<string, Missing[]>();
    await Promise.all(
      due.map(async (m) => {
        const attendance = await this.#attendance(m.meeting_id, { tutorId: m.tutor_id, studentId: m.student_id });
        if (attendance) decided.set(m.meeting_id, missingFrom(m, attendance));
      }),
    );
    if (decided.size === 0) return 0;
    const { published, toPublish } = await db.asService(async (tx) => {
      const noShowIds = [...decided].filter(([, missing]) => missing.length > 0).map(([id]) => id);
      const { rows } = await tx.query<MeetingRow>(
        `update video_meetings
           set no_show_checked_at = $2::timestamptz, no_show_published_at = case when meeting_id = any($3::text[]) then $2::timestamptz end
         where meeting_id = any($1::text[]) and no_show_checked_at is null and status in ('pending', 'active')
         returning ${meetingColumns}`,
        [[...decided.keys()], now, noShowIds],
      );
      const won = rows.filter((r) => noShowIds.includes(r.meeting_id));
      await outbox.add(
        tx,
        won.map((r) => events.noShow(r, decided.get(r.meeting_id)!, now)),
      );
      return {
        published: won,
        toPublish: await outbox.pending(
          tx,
          won.map((r) => r.meeting_id),
        ),
      };
    });
    await outbox.publish(toPublish);
    for (const r of published) {
      metrics.noShows.add(1);
      logger.info({ meetingId: r.meeting_id, missing: decided.get(r.meeting_id)!.map((m) => m.userType) }, 'no-show published');
    }
    return published.length;
  }

  /** The people let the participant service answer for a meeting it has not projected yet (nobody joined it). */
  async #attendance(meetingId: string, people: { tutorId: string; studentId: string }): Promise<Attendance | undefined> {
    try {
      const res = await this.#participants.attendance({
        meetingId,
        actorIsService: true,
        ...people,
      });
      return res.attendance;
    } catch (err) {
      this.#d.metrics.attendanceUnavailable.add(1);
      this.#d.logger.warn({ meetingId, err: (err as Error).message }, 'no attendance from the participant service');
      return undefined;
    }
  }
}

/** Who never joined: the students first (in the group's order), then the tutor (the order meeting.no_show lists them in). */
export function missingFrom(m: { tutor_id: string; student_id: string; student_ids?: readonly string[] }, attendance: Attendance): Missing[] {
  const joined = (userId: string) => attendance.entries.some((e) => e.userId.toLowerCase() === userId.toLowerCase() && e.sessions > 0);
  const missing: Missing[] = [];
  for (const s of m.student_ids?.length ? m.student_ids : [m.student_id]) if (!joined(s)) missing.push({ userId: s, userType: 'student' });
  if (!joined(m.tutor_id)) missing.push({ userId: m.tutor_id, userType: 'tutor' });
  return missing;
}
