import { createLogger, Outbox, type OutboxEvent } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { outboxOptions } from '../src/events';
import { bookingBody, meetingsOf, readStream, start } from './helpers';

describe('the outbox relay keeps one meeting’s events in order across replicas', () => {
  let h: Harness;
  let svc: MeetingService;
  beforeAll(async () => {
    h = await setup({ postgres: true });
    svc = await start(h);
  });
  afterAll(async () => {
    await svc?.stop();
    await h?.cleanup();
  });

  it('two replicas relaying at once, one event per turn: every meeting’s first stranded event is published before its second, each once', async () => {
    const meetings: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await meetingsOf(h.nc).createMeeting({
        ...bookingBody(`outbox-order-${i}`, new Date('2026-09-01T10:00:00Z')),
        actorIsService: true,
        actorUserId: '',
      });
      meetings.push(r.meeting!.meetingId);
    }
    // What a publisher that crashed after commit leaves: two events per meeting, interleaved across meetings.
    const old = new Date(Date.now() - 3_600_000);
    const stranded = (meetingId: string, n: 1 | 2): OutboxEvent => ({
      id: `order-test-${n}:${meetingId}`,
      meetingId,
      subject: `meeting.${n === 1 ? 'rescheduled' : 'cancelled'}.${meetingId}`,
      body: JSON.stringify({ n }),
      time: old,
    });
    const logger = createLogger('outbox-test', { level: 'silent' });
    const [a, b] = [new Outbox(h.db!, h.js, logger, outboxOptions), new Outbox(h.db!, h.js, logger, outboxOptions)];
    await h.db!.asService((tx) =>
      a.add(
        tx,
        meetings.flatMap((m) => [stranded(m, 1), stranded(m, 2)]),
      ),
    );

    // Each replica relays one event per turn, as fast as it can, until the outbox is empty.
    const drain = async (o: Outbox) => {
      for (let turns = 0; turns < 500; turns++) {
        await o.relay(new Date(), 1);
        const { rows } = await h.db!.pool.query("select count(*)::int as n from video_meeting_outbox where event_id like 'order-test-%'");
        if (rows[0].n === 0) return;
      }
      throw new Error('the outbox never emptied');
    };
    await Promise.all([drain(a), drain(b)]);

    const published = (await readStream(h, 'MEETINGS', 'meeting.>')).filter((e) => e.id.startsWith('order-test-'));
    expect(published).toHaveLength(meetings.length * 2);
    for (const m of meetings) {
      expect(published.filter((e) => e.id.endsWith(m)).map((e) => e.id)).toEqual([`order-test-1:${m}`, `order-test-2:${m}`]);
    }
  });
});
