import { randomUUID } from 'node:crypto';
import type { Db } from '@lessoncall/kit';
import { generateMeetingId, generatePasscode } from '@lessoncall/proto';

export interface BenchMeeting {
  meetingId: string;
  passcode: string;
  tutorId: string;
  studentId: string;
}

/** Meetings open now (joinable), inserted in bulk: creating them is not what is measured. */
export async function insertOpenMeetings(db: Db, n: number): Promise<BenchMeeting[]> {
  const ms: BenchMeeting[] = Array.from({ length: n }, () => ({
    meetingId: generateMeetingId(),
    passcode: generatePasscode(),
    tutorId: randomUUID(),
    studentId: randomUUID(),
  }));
  await db.asService((tx) =>
    tx.query(
      `insert into video_meetings (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
       select m, 'bench-' || m, t::uuid, s::uuid, p, now() - interval '1 minute', now() + interval '1 hour'
       from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as x(m, t, s, p)`,
      [ms.map((m) => m.meetingId), ms.map((m) => m.tutorId), ms.map((m) => m.studentId), ms.map((m) => m.passcode)],
    ),
  );
  return ms;
}
