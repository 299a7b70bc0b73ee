import { nodeWebSocket } from '@lessoncall/media/janus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MediaStack, startMediaStack } from '../../services/media/test/helpers';
import { SfuSession } from '../src/call/sfu';
import { countFrames, installWrtc, NodeMediaStream, syntheticCamera } from './wrtc';

installWrtc();

/**
 * The web client's sfu mode (web/src/call/sfu.ts) against a real Janus node: each participant
 * publishes once, subscribes to whoever is in the room or comes later, and decodes their video;
 * a camera swapped with replaceTrack keeps flowing; a participant who leaves is gone for the others.
 */
describe('web client: SfuSession through a real Janus VideoRoom', () => {
  let s: MediaStack;
  const sessions: SfuSession[] = [];
  const stops: (() => void)[] = [];

  beforeAll(async () => {
    s = await startMediaStack({ nodes: 1 });
  });
  afterAll(async () => {
    for (const stop of stops) stop();
    await Promise.all(sessions.map((x) => x.close().catch(() => {})));
    await s?.stop();
  });

  function camera(): MediaStreamTrack {
    const c = syntheticCamera();
    stops.push(c.stop);
    return c.track;
  }

  it('publishes once, sees earlier and later publishers, and loses the one who leaves', async () => {
    const m = await s.createMeeting({ students: 5 });
    const people = [m.tutorId, m.studentIds[0]!, m.studentIds[1]!];
    const frames = people.map(() => new Map<string, number>());
    const gone = people.map(() => new Set<string>());
    const join = async (i: number) => {
      const userId = people[i]!;
      const access = await s.access(m, userId, await s.join(m, userId));
      const video = camera();
      const session = new SfuSession({
        access,
        iceServers: [],
        forceRelay: false,
        local: () => ({ audio: undefined, video, stream: new NodeMediaStream([video]) }),
        createSocket: nodeWebSocket,
        events: {
          remoteStream: (from, stream) => {
            const track = stream.getVideoTracks()[0];
            if (!track) return;
            stops.push(countFrames(track, () => frames[i]!.set(from, (frames[i]!.get(from) ?? 0) + 1)));
          },
          remoteGone: (from) => gone[i]!.add(from),
          connectionState: () => {},
          lost: () => {},
          log: () => {},
        },
      });
      sessions.push(session);
      await session.start();
      return { session, access };
    };
    const a = await join(0);
    const b = await join(1);
    const c = await join(2);
    const ids = [a, b, c].map((x) => x.access.publisherId);
    await expect
      .poll(() => [0, 1, 2].every((i) => ids.filter((_, j) => j !== i).every((id) => (frames[i]!.get(id) ?? 0) > 10)), { timeout: 20_000 })
      .toBe(true);

    // Camera swapped (replaceTrack, no renegotiation): the others keep decoding.
    const before = frames[1]!.get(ids[0]!) ?? 0;
    await a.session.setTrack('video', camera());
    await expect.poll(() => (frames[1]!.get(ids[0]!) ?? 0) - before, { timeout: 10_000 }).toBeGreaterThan(15);

    await c.session.close();
    await expect.poll(() => gone[0]!.has(ids[2]!) && gone[1]!.has(ids[2]!), { timeout: 10_000 }).toBe(true);
  });
});
