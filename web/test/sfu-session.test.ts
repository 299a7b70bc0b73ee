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

  /** A meeting of `n` people (a tutor and students) and a way to put each into the room through SfuSession. */
  async function room(n: number) {
    const m = await s.createMeeting({ students: Math.max(5, n - 1) });
    const people = [m.tutorId, ...m.studentIds].slice(0, n);
    const frames = people.map(() => new Map<string, number>());
    const widths = people.map(() => new Map<string, number>());
    const gone = people.map(() => new Set<string>());
    const join = async (i: number, options: { simulcast?: boolean; camera?: MediaStreamTrack } = {}) => {
      const userId = people[i]!;
      const access = await s.access(m, userId, await s.join(m, userId));
      const video = options.camera ?? camera();
      const session = new SfuSession({
        access,
        iceServers: [],
        forceRelay: false,
        local: () => ({ audio: undefined, video, stream: new NodeMediaStream([video]) }),
        createSocket: nodeWebSocket,
        ...(options.simulcast ? { simulcast: true } : {}),
        events: {
          remoteStream: (from, stream) => {
            const track = stream.getVideoTracks()[0];
            if (!track) return;
            stops.push(
              countFrames(track, (f) => {
                frames[i]!.set(from, (frames[i]!.get(from) ?? 0) + 1);
                widths[i]!.set(from, f.width);
              }),
            );
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
    return { frames, widths, gone, join };
  }

  it('publishes once, sees earlier and later publishers, and loses the one who leaves', async () => {
    const { frames, gone, join } = await room(3);
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

  it('a tile off the page gets no video from Janus until it is shown again', async () => {
    const { frames, join } = await room(3);
    const a = await join(0);
    const b = await join(1);
    const c = await join(2);
    const [ib, ic] = [b.access.publisherId, c.access.publisherId];
    const f = frames[0]!;
    await expect.poll(() => (f.get(ib) ?? 0) > 10 && (f.get(ic) ?? 0) > 10, { timeout: 20_000 }).toBe(true);

    // Only b on the page: c's video stops (b's keeps coming — the sentinel that a's stream is live).
    a.session.setVideoWanted(new Map([[ib, { send: true, substream: 2 }]]));
    await new Promise((r) => setTimeout(r, 500)); // frames already on the way when Janus stopped
    const paused = { b: f.get(ib) ?? 0, c: f.get(ic) ?? 0 };
    await expect.poll(() => (f.get(ib) ?? 0) - paused.b, { timeout: 10_000 }).toBeGreaterThan(30);
    expect((f.get(ic) ?? 0) - paused.c).toBeLessThan(3);

    // c back on the page: its video plays again (a keyframe asked of the publisher by Janus).
    a.session.setVideoWanted(
      new Map([
        [ib, { send: true, substream: 2 }],
        [ic, { send: true, substream: 2 }],
      ]),
    );
    await expect.poll(() => (f.get(ic) ?? 0) - paused.c, { timeout: 10_000 }).toBeGreaterThan(15);

    // Paused again, then no stage at all (a group down to two): every video comes again.
    a.session.setVideoWanted(new Map([[ib, { send: true, substream: 2 }]]));
    await new Promise((r) => setTimeout(r, 1_000));
    const again = f.get(ic) ?? 0;
    await new Promise((r) => setTimeout(r, 2_000));
    expect((f.get(ic) ?? 0) - again).toBeLessThan(3);
    a.session.setVideoWanted(undefined);
    await expect.poll(() => (f.get(ic) ?? 0) - again, { timeout: 10_000 }).toBeGreaterThan(15);
  });

  it('a simulcast publisher: a small tile gets the low layer, a large one the high layer', async () => {
    const { frames, widths, join } = await room(2);
    const big = syntheticCamera({ width: 1280, height: 720, intervalMs: 66 });
    stops.push(big.stop);
    const a = await join(0, { simulcast: true, camera: big.track });
    const b = await join(1);
    const ia = a.access.publisherId;
    await expect.poll(() => frames[1]!.get(ia) ?? 0, { timeout: 20_000 }).toBeGreaterThan(10);

    const layerWidth = async (substream: 0 | 1 | 2) => {
      b.session.setVideoWanted(new Map([[ia, { send: true, substream }]]));
      // Janus switches at the layer's next keyframe: wait until the width settles.
      let last = 0;
      await expect
        .poll(
          () => {
            const w = widths[1]!.get(ia) ?? 0;
            const settled = w === last && w > 0;
            last = w;
            return settled && (substream === 0 ? w <= 320 : w > 320);
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe(true);
      return last;
    };
    const low = await layerWidth(0);
    const high = await layerWidth(2);
    expect(low).toBeLessThanOrEqual(320);
    expect(high).toBeGreaterThanOrEqual(low * 2);
  });
});
