import { Batcher, type BatcherOptions, type Clock, classifyFailure, type Db, type Logger, type Outbox, type OutboxEvent, type Tx } from '@lessoncall/kit';
import { generateMeetingId, generatePasscode } from '@lessoncall/proto';
import { bufferedRandom } from './random';
import type { MeetingEvents } from './events';
import type { MeetingMetrics } from './metrics';
import { type MediaMode, mediaModeFor, meetingColumns, type MeetingRow } from './model';
import { type NewMeeting, type NewMeetingFields, validateNewMeeting } from './validation';

export interface CreateResult {
  row: MeetingRow;
  /** false when the booking already had a meeting (a replay). */
  created: boolean;
  /** The booking already has a meeting for other people. */
  conflict: boolean;
}

export type CancelOutcome = 'cancelled' | 'cancel_remembered' | 'replayed' | 'ignored_completed';
export type RescheduleOutcome = 'rescheduled' | 'reschedule_remembered' | 'replayed' | 'stale' | 'unchanged' | 'ignored_closed';

export interface Reschedule {
  bookingId: string;
  scheduledStart: Date;
  scheduledEnd: Date;
  /** The booking event's ce-id: names the meeting.rescheduled event it causes. */
  eventId: string;
  /** When the booking system made the change: an older reschedule never undoes a newer one. */
  eventTime: Date;
}

interface BookingState {
  cancelled_at: Date | null;
  cancel_reason: string;
  scheduled_start: Date | null;
  scheduled_end: Date | null;
  reschedule_event_id: string | null;
  reschedule_event_time: Date | null;
}

const random = bufferedRandom();

/** Advisory-lock namespace of booking ids ('MEET'), apart from anybody else's advisory locks. */
const bookingLockSpace = 0x4d454554;

/**
 * Serialises everything done to one booking (confirm, cancel, reschedule) across replicas and
 * batches. Locks are taken in sorted order so that two batches never wait on each other in a
 * circle.
 */
async function lockBookings(tx: Tx, bookingIds: readonly string[]): Promise<void> {
  const sorted = [...new Set(bookingIds)].sort();
  await tx.query(`select pg_advisory_xact_lock(${bookingLockSpace}, hashtext(b)) from unnest($1::text[]) as b`, [sorted]);
}

async function meetingOfBooking(tx: Tx, bookingId: string): Promise<MeetingRow | undefined> {
  const { rows } = await tx.query<MeetingRow>(`select ${meetingColumns} from video_meetings where booking_id = $1`, [bookingId]);
  return rows[0];
}

async function bookingState(tx: Tx, bookingId: string): Promise<BookingState | undefined> {
  const { rows } = await tx.query<BookingState>(
    `select cancelled_at, cancel_reason, scheduled_start, scheduled_end, reschedule_event_id, reschedule_event_time
     from video_booking_state where booking_id = $1`,
    [bookingId],
  );
  return rows[0];
}

export interface BookingsDeps {
  db: Db;
  outbox: Outbox;
  events: MeetingEvents;
  clock: Clock;
  logger: Logger;
  metrics: MeetingMetrics;
  batch: BatcherOptions;
  /** Group lessons: how many students at most, and when a meeting runs on the SFU. */
  group?: GroupPolicy;
}

export interface GroupPolicy {
  maxStudents: number;
  meshMaxPeople: number;
  mode: 'auto' | 'sfu';
}

const defaultGroupPolicy: GroupPolicy = { maxStudents: 25, meshMaxPeople: 4, mode: 'auto' };

/**
 * What a booking does to meetings. Each change is written with its unique key (booking_id)
 * and its outgoing event in one transaction; the event is published after commit.
 */
export class Bookings {
  readonly #d: BookingsDeps;
  readonly #batcher: Batcher<NewMeeting, CreateResult>;
  readonly #group: GroupPolicy;

  constructor(deps: BookingsDeps) {
    this.#d = deps;
    this.#group = deps.group ?? defaultGroupPolicy;
    this.#batcher = new Batcher((inputs) => this.#createBatch(inputs), {
      ...deps.batch,
      splitOn: (err) => classifyFailure(err) !== 'transient',
    });
  }

  /**
   * Creates the booking's meeting, or answers the one it already has. A booking cancelled or
   * rescheduled before it was confirmed gets a meeting in that state.
   */
  /** A booking's fields checked against the group limit (any problem an invalid_request naming the field). */
  validate(fields: NewMeetingFields): NewMeeting {
    return validateNewMeeting(fields, { maxStudents: this.#group.maxStudents });
  }

  mediaMode(input: NewMeeting): MediaMode {
    return mediaModeFor(input, this.#group);
  }

  create(input: NewMeeting): Promise<CreateResult> {
    return this.#batcher.submit(input);
  }

  async #createBatch(inputs: NewMeeting[]): Promise<CreateResult[]> {
    const { db, outbox, events, clock, metrics } = this.#d;
    const now = clock.now();
    const bookingIds = [...new Set(inputs.map((i) => i.bookingId))];
    const { results, toPublish } = await db.asService(async (tx) => {
      await lockBookings(tx, bookingIds);
      const { rows: states } = await tx.query<
        Pick<BookingState, 'cancelled_at' | 'cancel_reason' | 'scheduled_start' | 'scheduled_end'> & { booking_id: string }
      >('select booking_id, cancelled_at, cancel_reason, scheduled_start, scheduled_end from video_booking_state where booking_id = any($1::text[])', [
        bookingIds,
      ]);
      const stateOf = new Map(states.map((s) => [s.booking_id, s]));
      const planned = new Map<string, NewMeeting>();
      for (const input of inputs) if (!planned.has(input.bookingId)) planned.set(input.bookingId, input);
      const plans = [...planned.values()].map((input) => {
        const state = stateOf.get(input.bookingId);
        const cancelledAt = state?.cancelled_at ?? null;
        return {
          input,
          meetingId: generateMeetingId(random),
          passcode: generatePasscode(random),
          start: state?.scheduled_start ?? input.scheduledStart,
          end: state?.scheduled_end ?? input.scheduledEnd,
          status: cancelledAt ? 'cancelled' : 'pending',
          endedAt: cancelledAt,
          endReason: cancelledAt ? 'cancelled' : null,
        };
      });
      const { rows: inserted } = await tx.query<MeetingRow>(
        `insert into video_meetings (meeting_id, booking_id, tutor_id, student_id, title, tutor_name, student_name, passcode, status,
           scheduled_start, scheduled_end, ended_at, end_reason, student_ids, media_mode, record, created_at, updated_at)
         select m.meeting_id, m.booking_id, m.tutor_id, m.student_id, m.title, m.tutor_name, m.student_name, m.passcode, m.status,
           m.scheduled_start, m.scheduled_end, m.ended_at, m.end_reason, string_to_array(m.students, ',')::uuid[], m.media_mode, m.record,
           $14::timestamptz, $14::timestamptz
         from unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::text[], $15::text[], $16::text[], $17::boolean[])
           as m(meeting_id, booking_id, tutor_id, student_id, title, tutor_name, student_name, passcode, status,
                scheduled_start, scheduled_end, ended_at, end_reason, students, media_mode, record)
         on conflict (booking_id) do nothing
         returning ${meetingColumns}`,
        [
          plans.map((p) => p.meetingId),
          plans.map((p) => p.input.bookingId),
          plans.map((p) => p.input.tutorId),
          plans.map((p) => p.input.studentId),
          plans.map((p) => p.input.title),
          plans.map((p) => p.input.tutorName),
          plans.map((p) => p.input.studentName),
          plans.map((p) => p.passcode),
          plans.map((p) => p.status),
          plans.map((p) => p.start),
          plans.map((p) => p.end),
          plans.map((p) => p.endedAt),
          plans.map((p) => p.endReason),
          now,
          // Ragged lists do not unnest: each group as one comma-joined string (uuids have no comma).
          plans.map((p) => p.input.studentIds.join(',')),
          plans.map((p) => this.mediaMode(p.input)),
          plans.map((p) => p.input.record),
        ],
      );
      const insertedBy = new Map(inserted.map((r) => [r.booking_id, r]));
      const missing = bookingIds.filter((b) => !insertedBy.has(b));
      const existing =
        missing.length === 0
          ? []
          : (await tx.query<MeetingRow>(`select ${meetingColumns} from video_meetings where booking_id = any($1::text[])`, [missing])).rows;
      const existingBy = new Map(existing.map((r) => [r.booking_id, r]));

      const fresh: OutboxEvent[] = inserted.flatMap((r) =>
        r.status === 'cancelled'
          ? [events.created(r, now), events.link(r, now), events.cancelled(r, stateOf.get(r.booking_id)?.cancel_reason ?? '', now)]
          : [events.created(r, now), events.link(r, now)],
      );
      await outbox.add(tx, fresh);
      // A meeting that exists already may still owe events (its publisher crashed): send them now.
      const owed = await outbox.pending(
        tx,
        existing.map((r) => r.meeting_id),
      );

      const answered = new Set<string>();
      const results = inputs.map((input): CreateResult => {
        const ins = insertedBy.get(input.bookingId);
        const row = ins ?? existingBy.get(input.bookingId);
        if (!row) throw new Error(`booking ${input.bookingId} has no meeting after insert`);
        const created = ins !== undefined && !answered.has(input.bookingId);
        answered.add(input.bookingId);
        const samePeople = row.tutor_id === input.tutorId && row.student_ids.join(',') === input.studentIds.join(',');
        return { row, created, conflict: !samePeople };
      });
      return { results, toPublish: [...fresh, ...owed] };
    });
    metrics.createBatchSize.record(inputs.length);
    await outbox.publish(toPublish);
    return results;
  }

  async cancel(bookingId: string, reason: string): Promise<CancelOutcome> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    const now = clock.now();
    const { outcome, toPublish, meetingId } = await db.asService(async (tx) => {
      await lockBookings(tx, [bookingId]);
      const row = await meetingOfBooking(tx, bookingId);
      if (!row) {
        await tx.query(
          `insert into video_booking_state (booking_id, cancelled_at, cancel_reason) values ($1, $2, $3)
           on conflict (booking_id) do update set
             cancel_reason = case when video_booking_state.cancelled_at is null then excluded.cancel_reason else video_booking_state.cancel_reason end,
             cancelled_at = coalesce(video_booking_state.cancelled_at, excluded.cancelled_at)`,
          [bookingId, now, reason],
        );
        return { outcome: 'cancel_remembered' as const, toPublish: [], meetingId: undefined };
      }
      const { rows } = await tx.query<MeetingRow>(
        `update video_meetings set status = 'cancelled', ended_at = $2, end_reason = 'cancelled'
         where meeting_id = $1 and status in ('pending', 'active') returning ${meetingColumns}`,
        [row.meeting_id, now],
      );
      const updated = rows[0];
      if (updated) await outbox.add(tx, [events.cancelled(updated, reason, now)]);
      const outcome: CancelOutcome = updated ? 'cancelled' : row.status === 'completed' ? 'ignored_completed' : 'replayed';
      return { outcome, toPublish: await outbox.pending(tx, [row.meeting_id]), meetingId: row.meeting_id };
    });
    await outbox.publish(toPublish);
    if (outcome === 'cancelled') {
      metrics.transitions.add(1, { event: 'cancelled', reason: 'booking_cancelled' });
      logger.info({ meetingId, bookingId }, 'meeting cancelled');
    } else {
      logger.info({ meetingId, bookingId, outcome }, 'booking cancellation handled');
    }
    return outcome;
  }

  async reschedule(r: Reschedule): Promise<RescheduleOutcome> {
    const { db, outbox, events, clock, logger, metrics } = this.#d;
    const now = clock.now();
    const { outcome, toPublish, meetingId } = await db.asService(async (tx) => {
      await lockBookings(tx, [r.bookingId]);
      const state = await bookingState(tx, r.bookingId);
      const row = await meetingOfBooking(tx, r.bookingId);
      const owed = async () => (row ? outbox.pending(tx, [row.meeting_id]) : []);
      if (state?.reschedule_event_id === r.eventId) return { outcome: 'replayed' as const, toPublish: await owed(), meetingId: row?.meeting_id };
      if (state?.reschedule_event_time && r.eventTime < state.reschedule_event_time) {
        return { outcome: 'stale' as const, toPublish: await owed(), meetingId: row?.meeting_id };
      }
      const remember = (previous: { start: Date; end: Date } | undefined) =>
        tx.query(
          `insert into video_booking_state (booking_id, scheduled_start, scheduled_end, previous_start, previous_end, reschedule_event_id, reschedule_event_time)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (booking_id) do update set scheduled_start = excluded.scheduled_start, scheduled_end = excluded.scheduled_end,
             previous_start = excluded.previous_start, previous_end = excluded.previous_end,
             reschedule_event_id = excluded.reschedule_event_id, reschedule_event_time = excluded.reschedule_event_time`,
          [r.bookingId, r.scheduledStart, r.scheduledEnd, previous?.start ?? null, previous?.end ?? null, r.eventId, r.eventTime],
        );
      if (!row) {
        await remember(undefined);
        return { outcome: 'reschedule_remembered' as const, toPublish: [], meetingId: undefined };
      }
      if (row.status === 'cancelled' || row.status === 'completed')
        return { outcome: 'ignored_closed' as const, toPublish: await owed(), meetingId: row.meeting_id };
      const previous = { start: row.scheduled_start, end: row.scheduled_end };
      if (previous.start.getTime() === r.scheduledStart.getTime() && previous.end.getTime() === r.scheduledEnd.getTime()) {
        await remember(previous);
        return { outcome: 'unchanged' as const, toPublish: await owed(), meetingId: row.meeting_id };
      }
      const { rows } = await tx.query<MeetingRow>(
        `update video_meetings set scheduled_start = $2, scheduled_end = $3
         where meeting_id = $1 and status in ('pending', 'active') returning ${meetingColumns}`,
        [row.meeting_id, r.scheduledStart, r.scheduledEnd],
      );
      const updated = rows[0];
      if (!updated) return { outcome: 'ignored_closed' as const, toPublish: await owed(), meetingId: row.meeting_id };
      await remember(previous);
      await outbox.add(tx, [events.rescheduled(updated, previous, r.eventId, now)]);
      return { outcome: 'rescheduled' as const, toPublish: await owed(), meetingId: row.meeting_id };
    });
    await outbox.publish(toPublish);
    if (outcome === 'rescheduled') metrics.transitions.add(1, { event: 'rescheduled', reason: 'booking_rescheduled' });
    logger.info({ meetingId, bookingId: r.bookingId, outcome }, 'booking reschedule handled');
    return outcome;
  }
}
