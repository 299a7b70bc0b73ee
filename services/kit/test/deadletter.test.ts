import { BookingConfirmedSchema, streams, subjects } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  consumeEvents,
  createLogger,
  ensureConsumer,
  ensureStream,
  invalidRequest,
  listDeadLetters,
  publishEvent,
  replayDeadLetters,
  jetstream,
} from '../src/index';
import { type Harness, setup } from '../src/testing/index';
import { booking } from './fixtures';

const logger = createLogger('kit-test', { level: 'silent' });

describe('the DEADLETTER stream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
    await ensureStream(h.jsm, streams.bookings);
    await ensureConsumer(h.jsm, { stream: 'BOOKINGS', durable: 'dl-test' });
  });
  afterAll(() => h.cleanup());

  it('keeps an invalid event with its reason, and replays it to the original subject once', async () => {
    // As in production: the meeting service consumes and dead-letters, an operator lists and replays.
    const service = await h.connectAs('meeting');
    const operator = jetstream(await h.connectAs('operator'));
    let accept = false;
    const handled: string[] = [];
    const consumer = await consumeEvents({
      nc: service,
      js: jetstream(service),
      stream: 'BOOKINGS',
      durable: 'dl-test',
      logger,
      schemaFor: () => BookingConfirmedSchema,
      handle: async (e) => {
        const id = (e.body as ReturnType<typeof booking>).bookingId;
        if (id === 'bad' && !accept) throw invalidRequest('bookingId', 'bad is not a booking');
        handled.push(`${id}@${e.meta.id}`);
      },
    });
    try {
      await publishEvent(h.js, subjects.bookingConfirmed, BookingConfirmedSchema, booking('bad'), { id: 'evt-bad', source: 'test' });
      await publishEvent(h.js, subjects.bookingConfirmed, BookingConfirmedSchema, booking('sentinel'), { id: 'evt-sentinel', source: 'test' });
      await expect.poll(() => handled, { timeout: 5_000 }).toContain('sentinel@evt-sentinel');
      await expect.poll(async () => (await listDeadLetters(operator)).length, { timeout: 5_000 }).toBe(1);

      const [letter] = await listDeadLetters(operator, { subject: 'booking.>' });
      expect(letter).toMatchObject({ subject: 'booking.confirmed', eventId: 'evt-bad', reason: 'invalid', deliveries: 1 });
      expect(letter?.error).toMatch(/bad is not a booking/);
      const stored = await h.jsm.streams.getMessage('DEADLETTER', { seq: letter!.seq });
      expect(stored?.header.get('Lessoncall-Original-Subject')).toBe('booking.confirmed');
      expect(stored?.header.get('Lessoncall-Dead-Letter-Reason')).toBe('invalid');
      expect(await listDeadLetters(operator, { subject: 'participant.>' })).toHaveLength(0);

      // After the fix, the operator replays it: handled once, under its own ce-id, and gone.
      accept = true;
      const replayed = await replayDeadLetters(operator, { id: 'evt-bad' });
      expect(replayed.map((r) => r.eventId)).toEqual(['evt-bad']);
      await expect.poll(() => handled, { timeout: 5_000 }).toContain('bad@evt-bad');
      expect(await listDeadLetters(operator)).toHaveLength(0);
      expect(await replayDeadLetters(operator)).toHaveLength(0);
    } finally {
      await consumer.stop();
    }
  });
});
