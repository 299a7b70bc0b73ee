import { timestampDate } from '@bufbuild/protobuf/wkt';
import { toJson } from '@lessoncall/kit';
import { MeetingSchema } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { MeetingEvents } from './events';
import type { MeetingRow } from './model';
import { mediaModeFor, toMeeting, userTypeOf } from './model';

const row: MeetingRow = {
  meeting_id: 'MID-ABCDEFGHJKMNPQRS',
  booking_id: 'b-1',
  tutor_id: '11111111-1111-4111-8111-111111111111',
  student_id: '22222222-2222-4222-8222-222222222222',
  student_ids: ['22222222-2222-4222-8222-222222222222', '44444444-4444-4444-8444-444444444444'],
  media_mode: 'p2p',
  record: false,
  recording_url: null,
  title: 'Algebra',
  tutor_name: 'T',
  student_name: 'S',
  passcode: '012345',
  status: 'pending',
  scheduled_start: new Date('2026-03-01T10:00:00Z'),
  scheduled_end: new Date('2026-03-01T11:00:00Z'),
  started_at: null,
  ended_at: null,
  end_reason: null,
  created_at: new Date('2026-02-01T00:00:00Z'),
  updated_at: new Date('2026-02-01T00:00:00Z'),
};
const window = { leadMs: 10 * 60_000, graceMs: 5 * 60_000 };

describe('meeting model', () => {
  it('maps a row to the Meeting message with its join window and without the passcode', () => {
    const m = toMeeting(row, window);
    expect(m.meetingId).toBe(row.meeting_id);
    expect(timestampDate(m.joinableFrom!).toISOString()).toBe('2026-03-01T09:50:00.000Z');
    expect(timestampDate(m.joinableUntil!).toISOString()).toBe('2026-03-01T11:05:00.000Z');
    expect(m.startedAt).toBeUndefined();
    expect(toJson(MeetingSchema, m)).not.toContain('012345');
  });

  it('tells tutor from student from stranger', () => {
    expect(userTypeOf(row, row.tutor_id.toUpperCase())).toBe('tutor');
    expect(userTypeOf(row, row.student_id)).toBe('student');
    expect(userTypeOf(row, '44444444-4444-4444-8444-444444444444')).toBe('student');
    expect(userTypeOf(row, '33333333-3333-4333-8333-333333333333')).toBeUndefined();
  });

  it('puts a meeting on the SFU when the mesh cannot carry it', () => {
    const students = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);
    const auto = { meshMaxPeople: 4, mode: 'auto' as const };
    expect(mediaModeFor({ studentIds: students(1), record: false }, auto)).toBe('p2p');
    expect(mediaModeFor({ studentIds: students(3), record: false }, auto)).toBe('p2p');
    expect(mediaModeFor({ studentIds: students(4), record: false }, auto)).toBe('sfu');
    expect(mediaModeFor({ studentIds: students(1), record: true }, auto)).toBe('sfu');
    expect(mediaModeFor({ studentIds: students(1), record: false }, { meshMaxPeople: 4, mode: 'sfu' })).toBe('sfu');
    const m = toMeeting({ ...row, media_mode: 'sfu', record: true }, window);
    expect(m).toMatchObject({ studentIds: row.student_ids, mediaMode: 'sfu', record: true, recordingUrl: '' });
  });

  it('gives every transition a deterministic event id, and a reschedule the id of its cause', () => {
    const events = new MeetingEvents(window, 'https://lessons.example.com');
    const t = new Date('2026-03-01T09:00:00Z');
    const created = events.created(row, t);
    expect(created).toMatchObject({ id: `meeting.created:${row.meeting_id}`, subject: `meeting.created.${row.meeting_id}` });
    // The passcode is not in meeting.created: only in the booking system's meeting_link.created.
    expect(created.body).not.toContain('012345');
    const link = events.link(row, t);
    expect(link).toMatchObject({ id: `meeting_link.created:${row.meeting_id}`, subject: `meeting_link.created.${row.meeting_id}` });
    expect(JSON.parse(link.body)).toEqual({
      meetingId: row.meeting_id,
      bookingId: row.booking_id,
      passcode: '012345',
      url: 'https://lessons.example.com/meet/MID-ABCDEFGHJKMNPQRS#pwd=012345',
    });
    expect(events.created(row, new Date()).id).toBe(created.id);
    expect(events.ended(row, 'window_closed', undefined, t).id).toBe(`meeting.ended:${row.meeting_id}`);
    const moved = { start: row.scheduled_start, end: row.scheduled_end };
    expect(events.rescheduled(row, moved, 'evt-7', t).id).toBe(`meeting.rescheduled:${row.meeting_id}:evt-7`);
    const odd = events.rescheduled(row, moved, `a very long id with spaces\n${'x'.repeat(100)}`, t).id;
    expect(odd).toMatch(new RegExp(`^meeting\\.rescheduled:${row.meeting_id}:[0-9a-f]{32}$`));
  });
});
