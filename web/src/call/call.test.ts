import { describe, expect, it } from 'vitest';
import { joinWindowProblem } from './call';
import type { MeetingView } from './protocol';

const base: MeetingView = {
  meetingId: 'MID-ABCDEFGHJKMNPQRS',
  title: 'Algebra',
  tutorId: 't',
  studentId: 's',
  tutorName: 'T',
  studentName: 'S',
  status: 'pending',
  scheduledStart: new Date('2030-01-01T10:00:00Z'),
  scheduledEnd: new Date('2030-01-01T11:00:00Z'),
  joinableFrom: new Date('2030-01-01T09:45:00Z'),
  joinableUntil: new Date('2030-01-01T11:15:00Z'),
  mediaMode: 'p2p',
  record: false,
};
const at = (iso: string) => new Date(iso).getTime();

describe('joinWindowProblem', () => {
  it('counts down to the opening of the window', () => {
    expect(joinWindowProblem(base, at('2030-01-01T09:00:00Z'))).toMatchObject({ code: 'meeting_not_started', retryAfterSeconds: 2700 });
  });

  it('lets the user in inside the window', () => {
    expect(joinWindowProblem(base, at('2030-01-01T09:45:00Z'))).toBeUndefined();
    expect(joinWindowProblem({ ...base, status: 'active' }, at('2030-01-01T11:14:59Z'))).toBeUndefined();
  });

  it('says ended after the window or once completed, and cancelled when cancelled', () => {
    expect(joinWindowProblem(base, at('2030-01-01T11:15:00Z'))?.code).toBe('meeting_ended');
    expect(joinWindowProblem({ ...base, status: 'completed' }, at('2030-01-01T10:30:00Z'))?.code).toBe('meeting_ended');
    expect(joinWindowProblem({ ...base, status: 'cancelled' }, at('2030-01-01T10:30:00Z'))?.code).toBe('meeting_cancelled');
  });

  it('trusts the server when it sends no window', () => {
    expect(joinWindowProblem({ ...base, joinableFrom: undefined, joinableUntil: undefined }, at('2029-01-01T00:00:00Z'))).toBeUndefined();
  });
});
