import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ServiceError } from '@lessoncall/kit';
import { describe, expect, it } from 'vitest';
import { normalizeClientKey, requireMeetingId, validateNewMeeting } from './validation';

const tutor = '11111111-1111-4111-8111-111111111111';
const student = '22222222-2222-4222-8222-222222222222';
const good = {
  bookingId: 'b-1',
  tutorId: tutor.toUpperCase(),
  studentId: student,
  scheduledStart: timestampFromDate(new Date('2026-03-01T10:00:00Z')),
  scheduledEnd: timestampFromDate(new Date('2026-03-01T11:00:00Z')),
  title: 'Algebra',
  tutorName: '',
  studentName: '',
};

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe('invalid_request');
    return (err as ServiceError).field;
  }
  return undefined;
}

describe('booking validation', () => {
  it('accepts a booking and normalises user ids', () => {
    const m = validateNewMeeting(good);
    expect(m).toMatchObject({ bookingId: 'b-1', tutorId: tutor, studentId: student, title: 'Algebra' });
    expect(m.scheduledEnd.toISOString()).toBe('2026-03-01T11:00:00.000Z');
  });

  it('names the field of every problem', () => {
    expect(fieldOf(() => validateNewMeeting({ ...good, bookingId: '' }))).toBe('bookingId');
    expect(fieldOf(() => validateNewMeeting({ ...good, bookingId: 'x'.repeat(201) }))).toBe('bookingId');
    expect(fieldOf(() => validateNewMeeting({ ...good, tutorId: 'tutor-1' }))).toBe('tutorId');
    expect(fieldOf(() => validateNewMeeting({ ...good, studentId: '' }))).toBe('studentId');
    expect(fieldOf(() => validateNewMeeting({ ...good, studentId: tutor }))).toBe('studentId');
    expect(fieldOf(() => validateNewMeeting({ ...good, scheduledStart: undefined }))).toBe('scheduledStart');
    expect(fieldOf(() => validateNewMeeting({ ...good, scheduledEnd: undefined }))).toBe('scheduledEnd');
    expect(fieldOf(() => validateNewMeeting({ ...good, scheduledEnd: good.scheduledStart }))).toBe('scheduledEnd');
    expect(fieldOf(() => validateNewMeeting({ ...good, title: 't'.repeat(201) }))).toBe('title');
    expect(fieldOf(() => requireMeetingId('MID-123'))).toBe('meetingId');
  });

  it('takes a group: studentId first, each student once, never the tutor, at most the limit', () => {
    const others = ['33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444'];
    expect(validateNewMeeting({ ...good, studentIds: [...others, student.toUpperCase()] }).studentIds).toEqual([student, ...others]);
    const noFirst = validateNewMeeting({ ...good, studentId: '', studentIds: others, record: true });
    expect(noFirst).toMatchObject({ studentId: others[0], studentIds: others, record: true });
    expect(validateNewMeeting(good)).toMatchObject({ studentIds: [student], record: false });
    expect(fieldOf(() => validateNewMeeting({ ...good, studentIds: others }))).toBe('studentIds');
    expect(fieldOf(() => validateNewMeeting({ ...good, studentIds: [student, others[0]!, others[0]!] }))).toBe('studentIds');
    expect(fieldOf(() => validateNewMeeting({ ...good, studentIds: [student, tutor] }))).toBe('studentIds');
    expect(fieldOf(() => validateNewMeeting({ ...good, studentIds: [student, 'not-a-uuid'] }))).toBe('studentIds[1]');
    expect(fieldOf(() => validateNewMeeting({ ...good, studentIds: [student, ...others] }, { maxStudents: 2 }))).toBe('studentIds');
    expect(validateNewMeeting({ ...good, studentIds: [student, ...others] }, { maxStudents: 3 }).studentIds).toHaveLength(3);
  });

  it('bounds client keys and drops empty ones', () => {
    expect(normalizeClientKey('  ')).toBeUndefined();
    expect(normalizeClientKey(' 10.0.0.1 ')).toBe('10.0.0.1');
    expect(normalizeClientKey('k'.repeat(500))).toHaveLength(200);
  });
});
