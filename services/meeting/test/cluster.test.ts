import { type Harness, setup } from '@lessoncall/kit/testing';
import { streams } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { confirm, meetingRow, start } from './helpers';

/**
 * A drill on what the chart runs: three NATS servers with JetStream, every stream on all
 * three (JETSTREAM_REPLICAS=3). A server lost mid-lesson-day loses no booking and stops no
 * consumer.
 */
describe('on a three-node NATS cluster', () => {
  let h: Harness;
  let svc: MeetingService;

  beforeAll(async () => {
    h = await setup({ postgres: true, natsCluster: 3 });
    svc = await start(h, undefined, { JETSTREAM_REPLICAS: '3' });
  });
  afterAll(async () => {
    await svc?.stop();
    await h?.cleanup();
  });

  const waitForMeeting = (bookingId: string) =>
    expect.poll(async () => (await meetingRow(h, bookingId))?.meeting_id, { timeout: 45_000, interval: 100 }).toMatch(/^MID-/);

  it('keeps every stream on all three servers', async () => {
    for (const spec of [streams.bookings, streams.meetings, streams.participants, streams.deadLetters]) {
      const info = await h.jsm.streams.info(spec.name);
      expect(info.config.num_replicas, spec.name).toBe(3);
      expect(info.cluster?.replicas?.length, `${spec.name} followers`).toBe(2);
    }
  });

  it('turns bookings into meetings while a server is down, and after it is back', async () => {
    await confirm(h, 'cluster-before', new Date(Date.now() + 3_600_000));
    await waitForMeeting('cluster-before');
    // Lose the server that leads the BOOKINGS stream: the worst one to lose.
    const leader = (await h.jsm.streams.info(streams.bookings.name)).cluster?.leader;
    const node = h.cluster!.nodes.find((n) => n.name === leader) ?? h.cluster!.nodes[0]!;
    await node.kill();
    await h.cluster!.jetStreamReady();
    // The two left elect a new stream leader (what the booking system's retries ride out).
    await expect
      .poll(async () => (await h.jsm.streams.info(streams.bookings.name).catch(() => undefined))?.cluster?.leader, { timeout: 20_000, interval: 100 })
      .toMatch(new RegExp(`^(?!${leader}$)n\\d$`));
    const lost = Date.now();
    for (const id of ['cluster-during-1', 'cluster-during-2']) await confirm(h, id, new Date(Date.now() + 3_600_000));
    await waitForMeeting('cluster-during-1');
    console.log(`bookings become meetings again ${Date.now() - lost} ms after BOOKINGS has its new leader`);
    await waitForMeeting('cluster-during-2');
    await node.start();
    await confirm(h, 'cluster-after', new Date(Date.now() + 3_600_000));
    await waitForMeeting('cluster-after');
    // The returned server caught up: all three hold every booking again.
    await expect
      .poll(
        async () => {
          const info = await h.jsm.streams.info(streams.bookings.name);
          return [info.cluster?.replicas?.length, info.cluster?.replicas?.every((r) => r.current)];
        },
        { timeout: 20_000 },
      )
      .toEqual([2, true]);
  }, 120_000);
});
