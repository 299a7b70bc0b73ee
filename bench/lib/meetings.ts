import { randomUUID } from 'node:crypto';
import type { Db } from '@lessoncall/kit';
import { generateMeetingId, generatePasscode } from '@lessoncall/proto';

export interface BenchMeeting {
  meetingId: string;
  passcode: string;
  tutorId: string;
  studentId: string;
}

/** Ids of meetings that exist nowhere: for benchmarks that answer svc.* themselves. */
export function newMeetings(n: number): BenchMeeting[] {
  return Array.from({ length: n }, () => ({
    meetingId: generateMeetingId(),
    passcode: generatePasscode(),
    tutorId: randomUUID(),
    studentId: randomUUID(),
  }));
}

/** Meetings open now (joinable), inserted in bulk: creating them is not what is measured. */
export async function insertOpenMeetings(db: Db, n: number, options: { hours?: number } = {}): Promise<BenchMeeting[]> {
  const ms = newMeetings(n);
  for (let i = 0; i < ms.length; i += 5_000) {
    const chunk = ms.slice(i, i + 5_000);
    await db.asService((tx) =>
      tx.query(
        `insert into video_meetings (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
         select m, 'bench-' || m, t::uuid, s::uuid, p, now() - interval '1 minute', now() + make_interval(hours => $5)
         from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as x(m, t, s, p)`,
        [chunk.map((m) => m.meetingId), chunk.map((m) => m.tutorId), chunk.map((m) => m.studentId), chunk.map((m) => m.passcode), options.hours ?? 1],
      ),
    );
  }
  return ms;
}
