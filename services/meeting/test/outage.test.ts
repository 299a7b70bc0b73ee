import { BookingConfirmedSchema, subjects } from '@lessoncall/proto';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingBody, publish, start } from './helpers';

const total = 1_000;
const outageMs = Number(process.env.OUTAGE_TEST_MS ?? 60_000);

describe('a Postgres outage longer than any back-off step', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup({ postgres: true });
  });
  afterAll(() => h.cleanup());

  it('Postgres down for 60 s while 1,000 bookings arrive: 1,000 meetings, nothing dead-lettered', async () => {
    const pgServer = h.postgres!;
    // Short steps so that the test does not wait 30 s after the database is back; the cap
    // on unknown errors stays at its default, which the old code hit after ~17 s.
    const service = await start(h, undefined, { BOOKING_RETRY_BASE_MS: '250', BOOKING_RETRY_MAX_MS: '4000' });
    try {
      await pgServer.halt();
      const haltedAt = Date.now();
      const startAt = new Date('2026-07-01T10:00:00Z');
      // Spread over the first half of the outage, as a booking system would keep publishing.
      for (let i = 0; i < total; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, k) =>
            publish(h, subjects.bookingConfirmed, BookingConfirmedSchema, bookingBody(`outage-${i + k}`, startAt), { id: `outage-evt-${i + k}` }),
          ),
        );
        await new Promise((r) => setTimeout(r, (outageMs / 2) * (50 / total)));
      }
      // Wait until every booking has been tried at least once against the dead database.
      await expect.poll(async () => (await h.jsm.consumers.info('BOOKINGS', 'meeting-bookings')).num_pending, { timeout: outageMs, interval: 500 }).toBe(0);
      await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (Date.now() - haltedAt))));
      await pgServer.resume();

      const count = async () => Number((await h.db!.pool.query("select count(*) from video_meetings where booking_id like 'outage-%'")).rows[0].count);
      await expect.poll(count, { timeout: 45_000, interval: 500 }).toBe(total);
      await expect
        .poll(
          async () => {
            const c = await h.jsm.consumers.info('BOOKINGS', 'meeting-bookings');
            return c.num_pending + c.num_ack_pending;
          },
          { timeout: 15_000, interval: 200 },
        )
        .toBe(0);
      const dead = await h.jsm.streams.info('DEADLETTER');
      expect(dead.state.messages).toBe(0);
      const metrics = await service.runtime.metrics.text();
      // The outage was seen and retried as transient, not as unknown errors.
      expect(metrics).toMatch(/meeting_event_retries_total\{[^}]*failure="transient"[^}]*\} [1-9]/);
      expect(metrics).not.toMatch(/meeting_dead_letters_total\{[^}]*\} [1-9]/);
    } finally {
      await service.stop();
    }
  }, 150_000);
});
