import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ServiceError } from '@lessoncall/kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxMeetingMs, validateNewMeeting } from './validation';

// biome-ignore lint/suspicious/noControlCharactersInRegex: what validation must refuse.
const anyControl = /[\u0000-\u001f\u007f-\u009f]/;

const base = {
  bookingId: 'b-1',
  tutorId: '11111111-1111-4111-8111-111111111111',
  studentId: '22222222-2222-4222-8222-222222222222',
  scheduledStart: timestampFromDate(new Date('2026-03-01T10:00:00Z')),
  scheduledEnd: timestampFromDate(new Date('2026-03-01T11:00:00Z')),
  title: '',
  tutorName: '',
  studentName: '',
};

/** The field an invalid_request names, or undefined when the booking is accepted. */
function rejectedField(fields: typeof base): string | undefined {
  try {
    validateNewMeeting(fields);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe('invalid_request');
    return (err as ServiceError).field;
  }
}

const control = fc
  .integer({ min: 0, max: 0x9f })
  .filter((c) => c < 0x20 || c >= 0x7f)
  .map((c) => String.fromCharCode(c));
const textFields = ['bookingId', 'title', 'tutorName', 'studentName'] as const;

describe('booking validation, property-based', () => {
  it('refuses a control character anywhere in any text field, naming that field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...textFields), fc.string({ maxLength: 20 }), control, fc.string({ maxLength: 20 }), (field, before, c, after) => {
        expect(rejectedField({ ...base, [field]: `x${before}${c}${after}` })).toBe(field);
      }),
    );
  });

  it('accepts printable text of any script up to the length limit', () => {
    const printable = fc.string({ unit: 'grapheme', maxLength: 60 }).filter((s) => !anyControl.test(s) && s.length <= 200);
    fc.assert(
      fc.property(printable, (text) => {
        expect(rejectedField({ ...base, bookingId: `b-${text}`.slice(0, 200), title: text, tutorName: text, studentName: text })).toBeUndefined();
      }),
    );
  });

  it('refuses times outside the years 2000 to 2099, and accepts a lesson inside them', () => {
    const outside = fc.oneof(
      fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('1999-12-31T23:59:59Z'), noInvalidDate: true }),
      fc.date({ min: new Date('2100-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
    );
    fc.assert(
      fc.property(outside, (t) => {
        const start = timestampFromDate(t);
        const end = timestampFromDate(new Date(t.getTime() + 3600_000));
        expect(rejectedField({ ...base, scheduledStart: start, scheduledEnd: end })).toBe('scheduledStart');
      }),
    );
    const inside = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-30T00:00:00Z'), noInvalidDate: true });
    fc.assert(
      fc.property(inside, fc.integer({ min: 1, max: maxMeetingMs }), (t, ms) => {
        const fields = { ...base, scheduledStart: timestampFromDate(t), scheduledEnd: timestampFromDate(new Date(t.getTime() + ms)) };
        expect(rejectedField(fields)).toBeUndefined();
      }),
    );
  });

  it('refuses a meeting longer than a day or not after its start', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: maxMeetingMs + 1, max: 365 * maxMeetingMs }), fc.integer({ min: -maxMeetingMs, max: 0 })), (ms) => {
        const t = new Date('2026-03-01T10:00:00Z');
        const fields = { ...base, scheduledStart: timestampFromDate(t), scheduledEnd: timestampFromDate(new Date(t.getTime() + ms)) };
        expect(rejectedField(fields)).toBe('scheduledEnd');
      }),
    );
  });
});
