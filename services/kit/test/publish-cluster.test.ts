import { type Harness, setup } from '@lessoncall/kit/testing';
import { MeetingStartedSchema, streams } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsumer, ensureStream, publishEvent } from '../src/index';

/**
 * Found by the drills: losing the NATS server that leads a stream failed every event publish
 * until the other two elected a new leader (seconds), so a participant's leave — which
 * publishes participant.left before it commits — answered 503 to the user.
 */
describe('publishEvent on a three-node cluster', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await setup({ natsCluster: 3 });
    await ensureStream(h.jsm, { ...streams.meetings, replicas: 3 });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('rides out the election of a new stream leader: no publish fails', async () => {
    const leader = (await h.jsm.streams.info(streams.meetings.name)).cluster?.leader;
    const node = h.cluster!.nodes.find((n) => n.name === leader)!;
    const failures: string[] = [];
    let published = 0;
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await publishEvent(h.js, `meeting.started.MID-AAAAAAAAAAAAAAA${i % 10}`, MeetingStartedSchema, {}, { id: `drill-${i}`, source: '/test' });
          published++;
        } catch (err) {
          failures.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await node.kill();
    // The stream has a new leader among the two left.
    await expect
      .poll(async () => (await h.jsm.streams.info(streams.meetings.name).catch(() => undefined))?.cluster?.leader, { timeout: 30_000, interval: 200 })
      .toMatch(new RegExp(`^(?!${leader}$)n\\d$`));
    const after = published;
    await expect.poll(() => published, { timeout: 10_000 }).toBeGreaterThan(after + 5);
    stop = true;
    await loop;
    await node.start();
    expect(failures).toEqual([]);
  }, 90_000);

  /**
   * Found by the drills: a meeting replica that started while the cluster was slow to answer
   * (a JetStream API timeout creating its consumer) exited with "failed to start" after its
   * /readyz had already said ready. Start-up now waits for JetStream to answer.
   */
  it('creates a stream and a consumer once JetStream has quorum again, instead of failing at the first timeout', async () => {
    await h.cluster!.jetStreamReady();
    const [a, b] = h.cluster!.nodes;
    // Two of three nodes gone: no quorum. The create below starts now and must finish only once
    // both are back (without the retry it fails with a timeout instead).
    await Promise.all([a!.kill(), b!.kill()]);
    const created = (async () => {
      await ensureStream(h.jsm, { name: 'QUORUM_TEST', subjects: ['quorum.test.>'], replicas: 3 });
      await ensureConsumer(h.jsm, { stream: 'QUORUM_TEST', durable: 'quorum-test' });
      return Date.now();
    })();
    await new Promise((r) => setTimeout(r, 3_000));
    const back = Date.now();
    await Promise.all([a!.start(), b!.start()]);
    const at = await created;
    expect(at).toBeGreaterThanOrEqual(back);
    expect((await h.jsm.consumers.info('QUORUM_TEST', 'quorum-test')).config.durable_name).toBe('quorum-test');
  }, 120_000);
});
