import { BookingConfirmedSchema, MeetingCreatedSchema, MeetingLinkCreatedSchema, subjects } from '@lessoncall/proto';
import { decode } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingBody, publish, readStream, start, subjectCounts } from './helpers';

const total = 1_000;

describe('booking.confirmed → exactly one meeting', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup({ postgres: true });
  });
  afterAll(() => h.cleanup());

  it('1,000 bookings published twice, consumer killed mid-stream: 1,000 meetings and 1,000 meeting.created', async () => {
    // Provision streams and the durable consumer, then stop, so the whole backlog is waiting.
    await (await start(h)).stop();

    const startAt = new Date('2026-06-01T10:00:00Z');
    const ids = Array.from({ length: total }, (_, i) => `ingest-${i}`);
    const publishCopy = (i: number, copy: 1 | 2) =>
      publish(h, subjects.bookingConfirmed, BookingConfirmedSchema, bookingBody(ids[i] as string, startAt), {
        // Even bookings repeat their ce-id (JetStream drops the copy); odd ones get a new ce-id
        // (the database's unique booking id absorbs it).
        id: copy === 2 && i % 2 === 1 ? `evt-${i}-retry` : `evt-${i}`,
      });
    for (let i = 0; i < total; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => publishCopy(i + k, 1)));
      await Promise.all(Array.from({ length: 100 }, (_, k) => publishCopy(i + k, 2)));
    }
    const bookings = await h.jsm.streams.info('BOOKINGS');
    expect(bookings.state.messages).toBe(total + total / 2);

    const count = async () => Number((await h.db!.pool.query("select count(*) from video_meetings where booking_id like 'ingest-%'")).rows[0].count);

    // The first consumer dies with work in flight: no drain, no acks.
    const first = await start(h, undefined, { BOOKING_BATCH_SIZE: '64' });
    await expect.poll(count, { timeout: 20_000, interval: 20 }).toBeGreaterThan(50);
    // A crash: the bus connection goes away mid-batch; nothing is drained or acked.
    await first.runtime.nc.close();
    await first.runtime.close();
    expect(await count()).toBeLessThan(total);

    const second = await start(h, undefined, { OUTBOX_RELAY_AFTER_MS: '1000' });
    try {
      await expect.poll(count, { timeout: 30_000, interval: 200 }).toBe(total);
      await expect
        .poll(
          async () => {
            const c = await h.jsm.consumers.info('BOOKINGS', 'meeting-bookings');
            return c.num_pending + c.num_ack_pending;
          },
          { timeout: 30_000, interval: 200 },
        )
        .toBe(0);
      const consumer = await h.jsm.consumers.info('BOOKINGS', 'meeting-bookings');
      // Some messages were delivered more than once (redelivered after the kill).
      expect(consumer.delivered.consumer_seq).toBeGreaterThan(total + total / 2);
      // Everything stranded by the kill (committed, and maybe published, but never cleared) is
      // published by the relay under its own id: JetStream keeps one copy.
      await expect
        .poll(
          async () => {
            await second.sweep();
            return Number((await h.db!.pool.query('select count(*) from video_meeting_outbox')).rows[0].count);
          },
          { timeout: 10_000, interval: 500 },
        )
        .toBe(0);
    } finally {
      await second.stop();
    }

    const counts = await subjectCounts(h, 'meeting.created.>');
    expect(Object.keys(counts)).toHaveLength(total);
    expect(Object.values(counts).every((n) => n === 1)).toBe(true);

    const created = await readStream(h, 'MEETINGS', 'meeting.created.>');
    expect(created).toHaveLength(total);
    const byBooking = new Map(created.map((e) => [decode(MeetingCreatedSchema, e.data).meeting?.bookingId, e]));
    expect(byBooking.size).toBe(total);
    // Each passcode and link once, for the booking system alone.
    const links = await readStream(h, 'MEETING_LINKS', 'meeting_link.created.>');
    expect(links).toHaveLength(total);
    const linkOf = new Map(links.map((e) => [decode(MeetingLinkCreatedSchema, e.data).bookingId, decode(MeetingLinkCreatedSchema, e.data)]));
    const { rows } = await h.db!.pool.query("select booking_id, meeting_id, passcode from video_meetings where booking_id like 'ingest-%'");
    for (const r of rows) {
      const e = byBooking.get(r.booking_id);
      expect(e?.subject).toBe(`meeting.created.${r.meeting_id}`);
      expect(e?.id).toBe(`meeting.created:${r.meeting_id}`);
      expect(decode(MeetingCreatedSchema, e!.data).passcode).toBe('');
      expect(linkOf.get(r.booking_id)).toMatchObject({
        meetingId: r.meeting_id,
        passcode: r.passcode,
        url: `https://lessons.test/meet/${r.meeting_id}#pwd=${r.passcode}`,
      });
    }
  });
});
