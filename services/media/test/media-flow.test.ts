import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JanusError, nodeJanusClient } from '../src/janus/index';
import { startMediaStack, type MediaStack } from './helpers';
import { SfuPeer } from './support/sfu-peer';

/** Media through a real Janus: `@roamhq/wrtc` peers publish once and decode each other's frames through the VideoRoom. */
describe('media through Janus', () => {
  let s: MediaStack;
  const peers: SfuPeer[] = [];

  beforeAll(async () => {
    s = await startMediaStack({ nodes: 1 });
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close().catch(() => {})));
    await s?.stop();
  });

  it('three participants publish once; each decodes the video of the other two', async () => {
    const m = await s.createMeeting({ students: 5 });
    const people = [m.tutorId, m.studentIds[0]!, m.studentIds[4]!];
    const accesses = await Promise.all(people.map(async (u) => s.access(m, u, await s.join(m, u))));
    for (const a of accesses) peers.push(await SfuPeer.connect(a));
    for (const p of peers) await p.publish();
    const ids = accesses.map((a) => a.publisherId);
    // Everyone learns of everyone else from Janus (the joined list or a later event).
    await expect.poll(() => peers.every((p, i) => ids.filter((_, j) => j !== i).every((id) => p.publishers.has(id))), { timeout: 10_000 }).toBe(true);
    for (const [i, p] of peers.entries()) for (const id of ids.filter((_, j) => j !== i)) await p.subscribe(id);
    await expect
      .poll(() => peers.every((p, i) => ids.filter((_, j) => j !== i).every((id) => (p.framesFrom.get(id) ?? 0) >= 10)), { timeout: 20_000 })
      .toBe(true);
    const stats = await peers[0]!.inboundStats();
    expect(stats).toHaveLength(2);
    for (const st of stats) expect(st.packetsReceived).toBeGreaterThan(0);
  });

  it('a subscription needs a publisher of the room: a client that entered with no join token cannot watch', async () => {
    const m = await s.createMeeting({ students: 5 });
    const access = await s.access(m, m.tutorId, await s.join(m, m.tutorId));
    const tutor = await SfuPeer.connect(access);
    peers.push(tutor);
    await tutor.publish();
    // Another meeting's participant: a valid core token, but no place in this room.
    const other = await s.createMeeting({ students: 5 });
    const outsider = await s.access(other, other.tutorId, await s.join(other, other.tutorId));
    const client = await nodeJanusClient(outsider.url, outsider.janusToken).connect();
    try {
      const handle = await client.attach('janus.plugin.videoroom');
      const attempt = (extra: Record<string, unknown>) =>
        handle.message({ request: 'join', ptype: 'subscriber', room: access.roomId, streams: [{ feed: access.publisherId }], ...extra }).then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(await attempt({})).toBeInstanceOf(JanusError);
      expect(await attempt({ private_id: 12_345, token: outsider.joinToken })).toBeInstanceOf(JanusError);
    } finally {
      await client.close();
    }
  });
});
