import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BookingConfirmedSchema } from '@lessoncall/proto';

/** A booking.confirmed body for the kit's JetStream tests. */
export const booking = (id: string) =>
  create(BookingConfirmedSchema, {
    bookingId: id,
    tutorId: '11111111-1111-4111-8111-111111111111',
    studentId: '22222222-2222-4222-8222-222222222222',
    scheduledStart: timestampFromDate(new Date('2026-12-01T10:00:00Z')),
    scheduledEnd: timestampFromDate(new Date('2026-12-01T11:00:00Z')),
  });
