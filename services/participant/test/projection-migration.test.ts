import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Db, migrate } from '@lessoncall/kit';
import { type PostgresServer, repoRoot, startPostgres } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meetingOf } from '../src/projection';

// Supabase runs migrations in place: the projection must come out of the data already there.
const migration = '20260207000000_participant_meetings.sql';
const tutor = 'a1111111-1111-4111-8111-111111111111';
const student = 'a2222222-2222-4222-8222-222222222222';

describe('the participant_meetings migration on an existing database', () => {
  let server: PostgresServer;
  let dir: string;
  let db: Db;
  const client = { query: (sql: string, params?: unknown[]) => db.pool.query(sql, params) };

  beforeAll(async () => {
    server = await startPostgres({ migrate: false });
    dir = await mkdtemp(join(tmpdir(), 'lessoncall-supabase-'));
    await cp(join(repoRoot, 'supabase', 'bootstrap'), join(dir, 'bootstrap'), { recursive: true });
    await mkdir(join(dir, 'migrations'));
    const earlier = (await readdir(join(repoRoot, 'supabase', 'migrations'))).filter((f) => f.endsWith('.sql') && f < migration);
    for (const f of earlier) await cp(join(repoRoot, 'supabase', 'migrations', f), join(dir, 'migrations', f));
    expect(await migrate({ databaseUrl: server.url, supabaseDir: dir })).toEqual(earlier);
    db = new Db({ url: server.url, max: 1 });
  });

  afterAll(async () => {
    await db?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('backfills every meeting, moves the sessions onto it, and carries the no-show decisions over', async () => {
    // What the database held before: a live lesson with a session, a future one, a finished one
    // whose no-show went out.
    await client.query(
      `insert into video_meetings (meeting_id, booking_id, tutor_id, student_id, title, tutor_name, student_name, passcode, status,
         scheduled_start, scheduled_end, started_at, ended_at, no_show_published_at)
       values
         ('MID-BACKFILLAAAAAAAA', 'bf-a', $1, $2, 'Algebra', 'Tara', 'Sam', '123456', 'active',
          '2026-05-01T10:00:00.123456Z', '2026-05-01T11:00:00Z', '2026-05-01T10:01:00Z', null, null),
         ('MID-BACKFILLBBBBBBBB', 'bf-b', $1, $2, '', '', '', '654321', 'pending',
          '2026-06-01T10:00:00Z', '2026-06-01T11:00:00Z', null, null, null),
         ('MID-BACKFILLCCCCCCCC', 'bf-c', $1, $2, '', '', '', '111111', 'completed',
          '2026-04-01T10:00:00Z', '2026-04-01T11:00:00Z', null, '2026-04-01T11:15:00Z', '2026-04-01T10:10:00Z')`,
      [tutor, student],
    );
    await client.query(
      `insert into video_participants (meeting_id, user_id, user_type, session_id, joined_at)
       values ('MID-BACKFILLAAAAAAAA', $1, 'tutor', 'backfill-session-1', '2026-05-01T10:01:00Z')`,
      [tutor],
    );

    await cp(join(repoRoot, 'supabase', 'migrations', migration), join(dir, 'migrations', migration));
    expect(await migrate({ databaseUrl: server.url, supabaseDir: dir })).toEqual([migration]);

    const { rows } = await client.query(
      'select meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, meeting from participant_meetings order by meeting_id',
    );
    expect(rows.map((r) => [r.meeting_id, r.status, r.tutor_id, r.student_id])).toEqual([
      ['MID-BACKFILLAAAAAAAA', 'active', tutor, student],
      ['MID-BACKFILLBBBBBBBB', 'pending', tutor, student],
      ['MID-BACKFILLCCCCCCCC', 'completed', tutor, student],
    ]);
    // The snapshot reads back as the Meeting message, to the microsecond.
    const live = meetingOf(rows[0]);
    expect(live).toMatchObject({ meetingId: 'MID-BACKFILLAAAAAAAA', bookingId: 'bf-a', title: 'Algebra', tutorName: 'Tara', status: 'active' });
    expect(live.scheduledStart).toMatchObject({ nanos: 123_456_000 });
    expect(timestampDate(live.startedAt!)).toEqual(new Date('2026-05-01T10:01:00Z'));
    expect(live.endedAt).toBeUndefined();
    expect(timestampDate(meetingOf(rows[2]).endedAt!)).toEqual(new Date('2026-04-01T11:15:00Z'));

    // The session survived and now hangs off the projection, not the meeting service's table.
    const fk = await client.query(
      `select confrelid::regclass::text as target from pg_constraint
       where conrelid = 'video_participants'::regclass and contype = 'f'`,
    );
    expect(fk.rows).toEqual([{ target: 'participant_meetings' }]);
    expect((await client.query('select session_id from video_participants')).rows).toEqual([{ session_id: 'backfill-session-1' }]);

    const decided = await client.query('select meeting_id, no_show_checked_at from video_meetings order by meeting_id');
    expect(decided.rows.map((r) => [r.meeting_id, r.no_show_checked_at])).toEqual([
      ['MID-BACKFILLAAAAAAAA', null],
      ['MID-BACKFILLBBBBBBBB', null],
      ['MID-BACKFILLCCCCCCCC', new Date('2026-04-01T10:10:00Z')],
    ]);
  });
});
