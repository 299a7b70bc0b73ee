import { describe, expect, it } from 'vitest';
import {
  describePrecall,
  isRelayCandidate,
  type LoopbackSample,
  loopbackMeasures,
  loopbackSample,
  loopbackTransport,
  type PrecallResult,
  turnUrlsByTransport,
} from './precall';
import type { StatLike } from './stats';

const all: PrecallResult = {
  transports: [
    { transport: 'udp', reachable: true, rttMs: 40 },
    { transport: 'tcp', reachable: true, rttMs: 45 },
    { transport: 'tls', reachable: true, rttMs: 60 },
  ],
  uploadKbps: 2500,
  camera: true,
  microphone: true,
};

describe('turnUrlsByTransport', () => {
  it('picks one URL per transport and ignores STUN', () => {
    expect(
      turnUrlsByTransport([
        'stun:t.example:3478',
        'turn:t.example:3478?transport=udp',
        'turn:t.example:3478?transport=tcp',
        'turns:t.example:5349?transport=tcp',
        'turn:other:3478',
      ]),
    ).toEqual({ udp: 'turn:t.example:3478?transport=udp', tcp: 'turn:t.example:3478?transport=tcp', tls: 'turns:t.example:5349?transport=tcp' });
  });
});

describe('describePrecall', () => {
  it('says everything works when it does', () => {
    expect(describePrecall(all)).toEqual({ level: 'good', lines: ['Everything works: your network, camera and microphone are ready for the lesson.'] });
  });

  it('explains blocked UDP as a caveat, not a failure', () => {
    const v = describePrecall({ ...all, transports: [{ transport: 'udp', reachable: false }, ...all.transports.slice(1)] });
    expect(v.level).toBe('warn');
    expect(v.lines).toEqual(['Your network blocks UDP; the lesson will still work through our relay over TCP, with a little more delay.']);
  });

  it('fails when no transport reaches the relay or the microphone is dead', () => {
    const blocked = describePrecall({ ...all, transports: all.transports.map((t) => ({ ...t, reachable: false })) });
    expect(blocked.level).toBe('bad');
    expect(blocked.lines[0]).toMatch(/could not reach our relay/);
    expect(describePrecall({ ...all, microphone: false }).level).toBe('bad');
  });

  it('warns about low upload, slow answers and a missing camera, using the best transport’s RTT', () => {
    const v = describePrecall({ ...all, uploadKbps: 180, camera: false, transports: [{ transport: 'tcp', reachable: true, rttMs: 420 }] });
    expect(v.level).toBe('warn');
    expect(v.lines).toEqual([
      'The connection is slow to answer (420 ms); expect a short delay when you talk.',
      'Your upload is low (180 kbit/s): the other side will see lower-quality video; audio comes first.',
      'Your camera is not working; the other side will see your name instead of video.',
    ]);
  });

  it('calls a middling upload enough without lowering the verdict', () => {
    expect(describePrecall({ ...all, uploadKbps: 800 })).toEqual({
      level: 'good',
      lines: ['Your upload (800 kbit/s) is enough for the lesson, not for full video quality.'],
    });
  });
});

describe('describePrecall with what the loopback call measured', () => {
  it('prefers the loopback call’s round trip to the allocation times', () => {
    const v = describePrecall({ ...all, rttMs: 350 });
    expect(v.level).toBe('warn');
    expect(v.lines).toEqual(['The connection is slow to answer (350 ms); expect a short delay when you talk.']);
    expect(describePrecall({ ...all, transports: all.transports.map((t) => ({ ...t, rttMs: 900 })), rttMs: 30 }).level).toBe('good');
  });

  it('a camera turned off is not tested, and not a failure; a relay without a loopback call is a caveat', () => {
    expect(describePrecall({ ...all, camera: undefined })).toEqual({ level: 'good', lines: ['Your camera is off, so it was not tested.'] });
    const v = describePrecall({ ...all, uploadKbps: undefined, loopbackFailed: true });
    expect(v.level).toBe('warn');
    expect(v.lines[0]).toMatch(/reached our relay, but a test call through it did not connect/);
  });

  it('a middling upload measured without a bandwidth estimate (Firefox) is a floor: no "not full quality" line', () => {
    expect(describePrecall({ ...all, uploadKbps: 520, uploadEstimated: false })).toEqual({
      level: 'good',
      lines: ['Everything works: your network, camera and microphone are ready for the lesson.'],
    });
    expect(describePrecall({ ...all, uploadKbps: 200, uploadEstimated: false }).level).toBe('warn');
  });

  it('a TLS transport the server does not offer says nothing', () => {
    expect(describePrecall({ ...all, transports: [...all.transports.slice(0, 2), { transport: 'tls', reachable: undefined }] }).level).toBe('good');
  });
});

describe('loopbackTransport and isRelayCandidate', () => {
  it('uses UDP when it gets through, else TCP, else TLS, else nothing', () => {
    expect(loopbackTransport(all.transports)).toBe('udp');
    expect(
      loopbackTransport([
        { transport: 'udp', reachable: false },
        { transport: 'tls', reachable: true },
        { transport: 'tcp', reachable: true },
      ]),
    ).toBe('tcp');
    expect(
      loopbackTransport([
        { transport: 'udp', reachable: false },
        { transport: 'tls', reachable: true },
      ]),
    ).toBe('tls');
    expect(
      loopbackTransport([
        { transport: 'udp', reachable: false },
        { transport: 'tcp', reachable: undefined },
      ]),
    ).toBeUndefined();
  });

  it('reads the candidate type, or the SDP line where the browser leaves it out', () => {
    expect(isRelayCandidate({ type: 'relay', candidate: '' })).toBe(true);
    expect(isRelayCandidate({ candidate: 'candidate:1 1 udp 41885439 127.0.0.1 20001 typ relay raddr 0.0.0.0 rport 0' })).toBe(true);
    expect(isRelayCandidate({ type: 'host', candidate: 'candidate:1 1 udp 2122260223 192.168.1.2 5000 typ host' })).toBe(false);
    expect(isRelayCandidate({ candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ srflx raddr relay.example 1' })).toBe(false);
  });
});

describe('loopbackSample', () => {
  it('reads Chromium’s sender and receiver stats', () => {
    const sender: StatLike[] = [
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P' },
      {
        id: 'P',
        type: 'candidate-pair',
        state: 'succeeded',
        nominated: true,
        currentRoundTripTime: 0.012,
        availableOutgoingBitrate: 2_400_000,
        localCandidateId: 'L',
      },
      { id: 'L', type: 'local-candidate', candidateType: 'relay', relayProtocol: 'udp' },
      { id: 'OV', type: 'outbound-rtp', kind: 'video', bytesSent: 90_000 },
      { id: 'OA', type: 'outbound-rtp', kind: 'audio', bytesSent: 10_000 },
    ];
    const receiver: StatLike[] = [
      { id: 'IV', type: 'inbound-rtp', kind: 'video', framesDecoded: 42 },
      { id: 'IA', type: 'inbound-rtp', kind: 'audio', totalAudioEnergy: 0.3, audioLevel: 0.2 },
    ];
    expect(loopbackSample(sender, receiver, 1_000)).toEqual({
      atMs: 1_000,
      rttMs: 12,
      availableOutgoingKbps: 2_400,
      bytesSent: 100_000,
      framesDecoded: 42,
      audioEnergy: 0.3,
      audioLevel: 0.2,
    });
  });

  it('hears the microphone at the sender’s media source, where Chromium’s receiver decodes no unplayed audio', () => {
    const sender: StatLike[] = [{ id: 'S', type: 'media-source', kind: 'audio', totalAudioEnergy: 0.02, audioLevel: 0.3 }];
    const receiver: StatLike[] = [{ id: 'IA', type: 'inbound-rtp', kind: 'audio', totalAudioEnergy: 0, audioLevel: 0 }];
    expect(loopbackSample(sender, receiver, 0)).toMatchObject({ audioEnergy: 0.02, audioLevel: 0.3 });
  });

  it('takes Firefox’s RTCP round trip (its pair says 0) and the receiver’s source level (no RTP audio level)', () => {
    const sender: StatLike[] = [
      { id: 'P', type: 'candidate-pair', state: 'succeeded', selected: true, currentRoundTripTime: 0 },
      { id: 'R', type: 'remote-inbound-rtp', kind: 'video', roundTripTime: 0.02 },
      { id: 'OV', type: 'outbound-rtp', kind: 'video', bytesSent: 5_000 },
    ];
    const s = loopbackSample(sender, [{ id: 'IA', type: 'inbound-rtp', kind: 'audio' }], 10, 0.05);
    expect(s).toMatchObject({ rttMs: 20, availableOutgoingKbps: undefined, bytesSent: 5_000, framesDecoded: 0, audioEnergy: 0, audioLevel: 0.05 });
  });
});

describe('loopbackMeasures', () => {
  const sample = (atMs: number, over: Partial<LoopbackSample> = {}): LoopbackSample => ({
    atMs,
    rttMs: 10,
    availableOutgoingKbps: undefined,
    bytesSent: 0,
    framesDecoded: 0,
    audioEnergy: 0,
    audioLevel: 0,
    ...over,
  });
  const tested = { camera: true, microphone: true };

  it('takes the median round trip, and the larger of the estimate and the send rate over at least 0.9 s', () => {
    const m = loopbackMeasures(
      [
        sample(0, { rttMs: 50 }),
        // 0.5 s after the first: too short a window to count its 1 Mbit.
        sample(500, { rttMs: 8, bytesSent: 62_500 }),
        sample(1_000, { rttMs: 12, bytesSent: 100_000, availableOutgoingKbps: 600 }),
        sample(2_000, { rttMs: 11, bytesSent: 250_000, framesDecoded: 30, audioEnergy: 0.1 }),
      ],
      tested,
    );
    // 1000 → 2000 ms: 150,000 bytes = 1,200 kbit/s, above the 600 estimate.
    expect(m).toEqual({ rttMs: 12, uploadKbps: 1_200, uploadEstimated: true, camera: true, microphone: true });
  });

  it('a camera that gives no frames and a silent microphone fail; untested ones stay undefined', () => {
    const samples = [sample(0), sample(1_000, { bytesSent: 1_000 })];
    expect(loopbackMeasures(samples, tested)).toMatchObject({ camera: false, microphone: false, uploadKbps: 8, uploadEstimated: false });
    expect(loopbackMeasures(samples, { camera: false, microphone: true })).toMatchObject({ camera: undefined, microphone: false });
    expect(loopbackMeasures([], tested)).toEqual({ camera: false, microphone: false });
  });
});
