import { describe, expect, it } from 'vitest';
import {
  type Adaptation,
  type AdaptationState,
  adapt,
  calmNetwork,
  encodingFor,
  initialAdaptation,
  networkState,
  outboundPath,
  type PathSample,
  trustedEstimate,
  videoLevels,
} from './adaptation';

const clean: PathSample = { outboundLossPercent: 0, inboundLossPercent: 0, rttMs: 40, availableOutgoingKbps: 3000 };

/** Feeds samples every 2 s, as the controller's stats loop does; returns every result. */
function run(samples: PathSample[], from: AdaptationState = initialAdaptation) {
  let state = from;
  return samples.map((s, i) => {
    const r = adapt(state, s, i * 2000);
    state = r.state;
    return r;
  });
}

describe('adapt', () => {
  it('stays at full quality on a clean path', () => {
    const out = run(Array(10).fill(clean));
    expect(out.every((r) => r.video.name === 'full' && !r.weakLocal && !r.offerAudioOnly)).toBe(true);
  });

  it('drops at once to what the bandwidth estimate fits, and tells the user their own connection is weak', () => {
    const [r] = run([{ ...clean, availableOutgoingKbps: 300 }]);
    expect(r?.video.name).toBe('low');
    expect(r?.weakLocal).toBe(true);
  });

  it('steps down one level per lossy sample, to the lowest, then offers audio only after 10 s there', () => {
    const lossy = { ...clean, outboundLossPercent: 20, availableOutgoingKbps: undefined };
    const out = run(Array(10).fill(lossy));
    expect(out.map((r) => r.video.name).slice(0, 4)).toEqual(['reduced', 'low', 'minimal', 'minimal']);
    expect(out[3]?.offerAudioOnly).toBe(false);
    expect(out[8]?.offerAudioOnly).toBe(true);
  });

  it('steps down on a long round trip alone (Firefox: no bandwidth estimate)', () => {
    const [r] = run([{ outboundLossPercent: 0, inboundLossPercent: 0, rttMs: 900, availableOutgoingKbps: undefined }]);
    expect(r?.video.name).toBe('reduced');
  });

  it('recovers one step at a time after 8 s of a good path, and not while loss is shaky', () => {
    const down = run([
      { ...clean, outboundLossPercent: 30 },
      { ...clean, outboundLossPercent: 30 },
    ]);
    const low = down[1]?.state as AdaptationState;
    expect(videoLevels[low.level]?.name).toBe('low');
    const shaky = run(Array(8).fill({ ...clean, outboundLossPercent: 4 }), low);
    expect(shaky.every((r) => r.video.name === 'low')).toBe(true);
    const good = run(Array(12).fill(clean), low);
    const names = good.map((r) => r.video.name);
    // 0 s good since, 8 s up one step, 16 s up another
    expect(names[3]).toBe('low');
    expect(names[4]).toBe('reduced');
    expect(names[8]).toBe('full');
    expect(good[11]?.weakLocal).toBe(false);
  });

  it('an estimate the sender does not use (a still picture, our own cap) is no reason to step down', () => {
    const idle = run(Array(5).fill({ ...clean, availableOutgoingKbps: 900, sentKbps: 300 }));
    expect(idle.every((r) => r.video.name === 'full')).toBe(true);
    const [binding] = run([{ ...clean, availableOutgoingKbps: 900, sentKbps: 800 }]);
    expect(binding?.video.name).toBe('reduced');
  });

  it('a capped sender steps up once the estimate carries its level; a step up the estimate undoes doubles the wait (to 64 s), one that holds resets it', () => {
    // At `reduced` (600 kbps, sending all of it) on a path whose estimate stays near what is sent.
    const reduced: AdaptationState = { level: 1, goodSince: undefined, strugglingSince: undefined };
    const carried = { ...clean, availableOutgoingKbps: 800, sentKbps: 600 };
    const first = run(Array(5).fill(carried), reduced);
    expect(first.map((r) => r.video.name)).toEqual(['reduced', 'reduced', 'reduced', 'reduced', 'full']); // up at 8 s
    // At full the same estimate no longer fits (1500 kbps wanted): back down, and the next try waits 16 s.
    let state = first[4]?.state as AdaptationState;
    const undone = adapt(state, carried, 10_000);
    expect(undone.video.name).toBe('reduced');
    expect(undone.state.waitMs).toBe(16_000);
    let t = 10_000;
    const names: string[] = [];
    state = undone.state;
    for (let i = 0; i < 20; i++) {
      t += 2_000;
      const r = adapt(state, carried, t);
      state = r.state;
      names.push(r.video.name);
    }
    expect(names.indexOf('full')).toBe(8); // 16 s of a good path again: from 12 s to 28 s
    expect(state.waitMs).toBe(32_000); // and that one was undone too
    // Doubling stops at 64 s.
    let capped: AdaptationState = { ...reduced, upAt: 0, waitMs: 64_000 };
    capped = adapt(capped, carried, 1_000).state;
    expect(capped.waitMs).toBe(64_000);
    // A step up that holds for its wait (the estimate grew) resets it to 8 s: here 32 s after it.
    const held = run(Array(20).fill({ ...clean, availableOutgoingKbps: 3000, sentKbps: 1400 }), { ...reduced, waitMs: 32_000, goodSince: -32_000 });
    expect(held[0]?.video.name).toBe('full');
    expect(held[16]?.state).toMatchObject({ level: 0, waitMs: 8_000, upAt: undefined });
  });

  it('listens to the bandwidth estimate only once the video has been sending for its ramp-up (10 s)', () => {
    expect(trustedEstimate(300, undefined)).toBeUndefined();
    expect(trustedEstimate(300, 9_999)).toBeUndefined();
    expect(trustedEstimate(300, 10_000)).toBe(300);
  });

  it('blames the other side when only what we receive is lossy', () => {
    const [r] = run([{ ...clean, inboundLossPercent: 25 }]);
    expect(r).toMatchObject({ weakLocal: false, weakRemote: true });
    expect(r?.video.name).toBe('full');
  });
});

describe('encodingFor', () => {
  it('scales the camera down but keeps a shared screen sharp, trading frame rate', () => {
    const low = videoLevels[2];
    if (!low) throw new Error('no low level');
    expect(encodingFor(low, '')).toEqual({ maxBitrate: 250_000, scaleResolutionDownBy: 2, maxFramerate: 15 });
    expect(encodingFor(videoLevels[0] as never, 'detail')).toEqual({ maxBitrate: 1_500_000, scaleResolutionDownBy: 1, maxFramerate: 15 });
  });
});

describe('outboundPath', () => {
  const report = (sent: number, lost: number, available?: number) => [
    { id: 'O', type: 'outbound-rtp', kind: 'video', packetsSent: sent },
    { id: 'OA', type: 'outbound-rtp', kind: 'audio', packetsSent: 999 },
    { id: 'R', type: 'remote-inbound-rtp', kind: 'video', packetsLost: lost },
    { id: 'P', type: 'candidate-pair', state: 'succeeded', nominated: true, ...(available ? { availableOutgoingBitrate: available } : {}) },
  ];
  it('computes loss on our video over the interval and reads the bandwidth estimate', () => {
    const first = outboundPath(report(1000, 10, 2_000_000), undefined);
    expect(first).toMatchObject({ outboundLossPercent: undefined, availableOutgoingKbps: 2000 });
    const second = outboundPath(report(1500, 60), first.sample);
    expect(second).toMatchObject({ outboundLossPercent: 10, availableOutgoingKbps: undefined });
  });

  it('computes what our video sent over the interval from bytes and the stats timestamps', () => {
    const at = (bytesSent: number, timestamp: number) => [{ id: 'O', type: 'outbound-rtp', kind: 'video', packetsSent: 1, bytesSent, timestamp }];
    const first = outboundPath(at(0, 1_000), undefined);
    expect(first.sentKbps).toBeUndefined();
    expect(outboundPath(at(250_000, 3_000), first.sample).sentKbps).toBe(1000); // 2 Mbit in 2 s
  });
});

describe('networkState', () => {
  const at = (level: number, more: Partial<Adaptation> = {}): Adaptation => ({
    state: { ...initialAdaptation, level },
    video: videoLevels[level] ?? videoLevels[0]!,
    weakLocal: false,
    weakRemote: false,
    offerAudioOnly: false,
    ...more,
  });

  it('no peers, or all on a clean path: full video, nothing to tell', () => {
    expect(networkState([], false)).toEqual(calmNetwork);
    expect(networkState([at(0), at(0)], false)).toEqual(calmNetwork);
  });

  it('the weakest peer sets the video level; one weak uplink is enough to say ours is weak', () => {
    const last = videoLevels.length - 1;
    expect(networkState([at(0), at(last, { weakLocal: true }), at(1)], false)).toEqual({
      video: videoLevels[last]?.name,
      weakLocal: true,
      offerAudioOnly: false,
    });
  });

  it('offers audio only while the camera is on', () => {
    const struggling = [at(videoLevels.length - 1, { offerAudioOnly: true })];
    expect(networkState(struggling, false).offerAudioOnly).toBe(true);
    expect(networkState(struggling, true).offerAudioOnly).toBe(false);
  });
});
