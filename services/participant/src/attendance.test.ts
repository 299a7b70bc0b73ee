import { describe, expect, it } from 'vitest';
import { computeAttendance, type SessionSpan } from './attendance';

const tutorId = '11111111-1111-4111-8111-111111111111';
const studentId = '22222222-2222-4222-8222-222222222222';
const at = (minute: number, second = 0) => new Date(Date.UTC(2026, 0, 1, 10, minute, second));

const session = (over: Partial<SessionSpan> & Pick<SessionSpan, 'userId' | 'joinedAt'>): SessionSpan => ({
  userType: over.userId === tutorId ? 'tutor' : 'student',
  leftAt: null,
  connected: true,
  disconnectedAt: null,
  reconnects: 0,
  ...over,
});

describe('attendance', () => {
  it('counts overlapping tabs once, a timed-out session until its socket went away, and reconnects', () => {
    const sessions = [
      // Tutor: 10:00–10:30 in one tab with one resumed blip, a second tab 10:10–10:20 (inside the first).
      session({ userId: tutorId, joinedAt: at(0), leftAt: at(30), reconnects: 1 }),
      session({ userId: tutorId, joinedAt: at(10), leftAt: at(20) }),
      // Student: 10:02, socket lost at 10:12, closed by the sweep at 10:12:20 (timeout);
      // back with a new session at 10:15 and still there at 10:40 (now).
      session({ userId: studentId, joinedAt: at(2), leftAt: at(12, 20), connected: false, disconnectedAt: at(12) }),
      session({ userId: studentId, joinedAt: at(15) }),
    ];
    const [tutor, student] = computeAttendance({ tutorId, studentId }, sessions, at(40));
    expect(tutor).toEqual({
      userId: tutorId,
      userType: 'tutor',
      firstJoinedAt: at(0),
      lastLeftAt: at(30),
      connectedSeconds: 30 * 60,
      sessions: 2,
      reconnects: 1,
    });
    expect(student).toEqual({
      userId: studentId,
      userType: 'student',
      firstJoinedAt: at(2),
      lastLeftAt: undefined,
      connectedSeconds: 10 * 60 + 25 * 60,
      sessions: 2,
      reconnects: 1,
    });
  });

  it('lists a user who never joined with zero sessions', () => {
    const [tutor, student] = computeAttendance({ tutorId, studentId }, [session({ userId: tutorId, joinedAt: at(0) })], at(5));
    expect(tutor?.connectedSeconds).toBe(300);
    expect(tutor?.reconnects).toBe(0);
    expect(student).toEqual({
      userId: studentId,
      userType: 'student',
      firstJoinedAt: undefined,
      lastLeftAt: undefined,
      connectedSeconds: 0,
      sessions: 0,
      reconnects: 0,
    });
  });

  it('a live session whose socket is gone stops counting when it went away', () => {
    const [, student] = computeAttendance(
      { tutorId, studentId },
      [session({ userId: studentId, joinedAt: at(0), connected: false, disconnectedAt: at(3) })],
      at(4),
    );
    expect(student?.connectedSeconds).toBe(180);
    expect(student?.lastLeftAt).toBeUndefined();
  });
});
