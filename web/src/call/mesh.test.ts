import { create } from '@bufbuild/protobuf';
import { SignalSchema } from '@lessoncall/proto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakePeerConnection, FakeStream, FakeTrack } from './fakes';
import { type MeshEvents, PeerMesh } from './mesh';
import type { SignalInit } from './protocol';

const offer = (sdp: string) => create(SignalSchema, { type: 'offer', sdp });

function setup(opts: { self?: string; forceRelay?: boolean; live?: boolean } = {}) {
  const pcs: FakePeerConnection[] = [];
  const signals: { to: string; signal: SignalInit }[] = [];
  const events = {
    signal: (to: string, signal: SignalInit) => signals.push({ to, signal }),
    changed: vi.fn(),
    created: vi.fn(),
    dropped: vi.fn(),
    screenShareStarted: vi.fn(),
    log: () => {},
  } satisfies MeshEvents;
  const camera = new FakeTrack('video').asTrack();
  const mic = new FakeTrack('audio').asTrack();
  let live = opts.live ?? true;
  const mesh = new PeerMesh({
    selfSessionId: () => opts.self ?? 'm',
    forceRelay: opts.forceRelay ?? false,
    offerFallbackMs: 2_500,
    local: () => ({ audio: mic, video: camera, stream: new FakeStream([mic, camera]) as unknown as MediaStream }),
    screenSharing: () => false,
    live: () => live,
    now: () => 0,
    events,
    createPeerConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc.asPeerConnection();
    },
  });
  const offersTo = (id: string) => signals.filter((s) => s.to === id && s.signal.type === 'offer');
  return { mesh, pcs, signals, events, offersTo, camera, mic, setLive: (v: boolean) => (live = v) };
}

describe('PeerMesh', () => {
  beforeEach(() => {
    vi.stubGlobal('MediaStream', FakeStream);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('offers to someone who was here first, sending our camera and microphone, over the TURN relay only when forced', async () => {
    const { mesh, pcs, offersTo, camera, mic } = setup({ forceRelay: true });
    mesh.setIceServers([{ urls: 'turn:turn.example:3478' }]);
    mesh.connect('s1');
    await vi.runOnlyPendingTimersAsync();
    expect(offersTo('s1')).toHaveLength(1);
    expect(pcs[0]?.config).toMatchObject({ iceTransportPolicy: 'relay', iceServers: [{ urls: 'turn:turn.example:3478' }] });
    expect(pcs[0]?.getSenders().map((s) => s.track)).toEqual([mic, camera]);
    expect(mesh.tile('s1')).toEqual({ connection: 'new', screenSharing: false });
  });

  it('the greater session id is the polite side of a collision', async () => {
    const { mesh, pcs } = setup({ self: 'b' });
    mesh.connect('a');
    mesh.connect('c');
    await vi.runOnlyPendingTimersAsync();
    // Both sides offered at once: the polite side applies the other's offer, the impolite one ignores it.
    mesh.handleSignal('a', offer('their offer'));
    mesh.handleSignal('c', offer('their offer'));
    await vi.runOnlyPendingTimersAsync();
    expect(pcs[0]?.remoteDescription?.sdp).toBe('their offer'); // b > a: we are polite towards a
    expect(pcs[1]?.remoteDescription).toBeNull(); // b < c: we keep our own offer
  });

  it('a peer that leaves is closed and its tile is gone', () => {
    const { mesh, pcs, events } = setup();
    mesh.connect('s1');
    mesh.connect('s2');
    mesh.drop('s1');
    expect(pcs[0]?.closed).toBe(true);
    expect(pcs[1]?.closed).toBe(false);
    expect(mesh.tile('s1')).toBeUndefined();
    expect(mesh.connections().map(([id]) => id)).toEqual(['s2']);
    expect(events.dropped).toHaveBeenCalledWith('s1');
  });

  it('shows the remote stream and the connection state on the tile', () => {
    const { mesh, pcs } = setup();
    mesh.connect('s1');
    pcs[0]?.receive('video');
    pcs[0]?.setState('connected');
    const tile = mesh.tile('s1');
    expect(tile?.connection).toBe('connected');
    expect(tile?.stream?.getVideoTracks()).toHaveLength(1);
  });

  it('a newcomer offers; we offer only if its offer has not come after the fallback time, and not to one who left', async () => {
    const { mesh, pcs, offersTo, signals } = setup();
    mesh.expect('late');
    mesh.expect('quick');
    mesh.expect('gone');
    mesh.drop('gone');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signals).toHaveLength(0);
    mesh.handleSignal('quick', offer('offer from quick'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(offersTo('late')).toHaveLength(1);
    expect(offersTo('quick')).toHaveLength(0);
    expect(signals.find((s) => s.to === 'quick')?.signal.type).toBe('answer');
    expect(signals.filter((s) => s.to === 'gone')).toEqual([]);
    expect(pcs[2]?.closed).toBe(true);
  });

  it('replaces a failed connection when the welcome names that peer again, and keeps a working one', () => {
    const { mesh, pcs, events } = setup();
    mesh.connect('s1');
    mesh.connect('s2');
    pcs[0]?.setState('failed');
    pcs[1]?.setState('connected');
    mesh.connect('s1');
    mesh.connect('s2');
    expect(pcs).toHaveLength(3);
    expect(pcs[0]?.closed).toBe(true);
    expect(mesh.connection('s1')).toBe(pcs[2]);
    expect(mesh.connection('s2')).toBe(pcs[1]);
    expect(events.created).toHaveBeenCalledTimes(3);
  });

  it('restarts ICE only where the connection is not up when the page comes back', () => {
    const { mesh, pcs } = setup();
    mesh.connect('up');
    mesh.connect('down');
    pcs[0]?.setState('connected');
    pcs[1]?.setState('disconnected');
    mesh.restartIceUnlessConnected();
    expect(pcs.map((pc) => pc.iceRestarts)).toEqual([0, 1]);
  });

  it('swaps the track every peer sends (camera off, screen) without a new connection', async () => {
    const { mesh, pcs, mic } = setup();
    mesh.connect('s1');
    mesh.connect('s2');
    const screen = new FakeTrack('video', 'screen').asTrack();
    await mesh.setTrack('video', screen);
    for (const pc of pcs) expect(pc.getSenders().map((s) => s.track)).toEqual([mic, screen]);
    await mesh.setTrack('video', undefined);
    for (const pc of pcs) expect(pc.getSenders().map((s) => s.track)).toEqual([mic, null]);
    expect(pcs).toHaveLength(2);
  });

  it('hears the louder peer in its audio level', () => {
    const { mesh, pcs } = setup();
    mesh.connect('s1');
    mesh.connect('s2');
    if (pcs[1]) pcs[1].audioLevel = 0.3;
    expect(mesh.audioLevels().map(([id, level]) => [id, level()])).toEqual([
      ['s1', 0],
      ['s2', 0.3],
    ]);
  });
});
