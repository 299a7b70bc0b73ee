import { describe, expect, it } from 'vitest';
import { localCandidateType, qualityLevel, type StatLike, summarizeStats, summarizeUplink } from './stats';

function report({
  localType = 'relay',
  remoteType = 'relay',
  rtt = 0.012,
  received = 1000,
  lost = 0,
  bytes = 100_000,
  frames = 90,
  viaTransport = true,
} = {}): StatLike[] {
  return [
    { id: 'T1', type: 'transport', ...(viaTransport ? { selectedCandidatePairId: 'CP1' } : {}) },
    { id: 'CP0', type: 'candidate-pair', state: 'failed', localCandidateId: 'L0', remoteCandidateId: 'R0' },
    { id: 'CP1', type: 'candidate-pair', state: 'succeeded', nominated: true, localCandidateId: 'L1', remoteCandidateId: 'R1', currentRoundTripTime: rtt },
    { id: 'L0', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
    { id: 'L1', type: 'local-candidate', candidateType: localType, protocol: 'udp', relayProtocol: 'udp' },
    { id: 'R1', type: 'remote-candidate', candidateType: remoteType },
    { id: 'IA', type: 'inbound-rtp', kind: 'audio', packetsReceived: received / 2, packetsLost: lost / 2, bytesReceived: bytes / 4 },
    {
      id: 'IV',
      type: 'inbound-rtp',
      kind: 'video',
      packetsReceived: received / 2,
      packetsLost: lost / 2,
      bytesReceived: (3 * bytes) / 4,
      framesDecoded: frames,
      framesPerSecond: 30,
    },
  ];
}

describe('summarizeStats', () => {
  it('reads route, RTT and frames from the selected pair', () => {
    const { quality } = summarizeStats(report(), undefined, 1000);
    expect(quality).toMatchObject({ route: 'relay', localCandidate: 'relay/udp', rttMs: 12, framesDecoded: 90, framesPerSecond: 30, level: 'good' });
    expect(quality.lossPercent).toBeUndefined();
  });

  it('calls a host-to-host pair direct', () => {
    expect(summarizeStats(report({ localType: 'host', remoteType: 'srflx' }), undefined, 0).quality.route).toBe('direct');
    expect(summarizeStats(report({ localType: 'host', remoteType: 'relay' }), undefined, 0).quality.route).toBe('relay');
  });

  it('finds the nominated pair when the transport does not name one', () => {
    expect(summarizeStats(report({ viaTransport: false }), undefined, 0).quality.route).toBe('relay');
  });

  it('reads Firefox stats: the pair marked selected, RTT from RTCP when the pair says 0', () => {
    // Shape of Firefox 153's report: a transport without selectedCandidatePairId, a cancelled
    // nominated-false pair, the selected one with currentRoundTripTime 0.
    const firefox: StatLike[] = [
      { id: 'T', type: 'transport' },
      { id: 'P0', type: 'candidate-pair', state: 'cancelled', nominated: false, selected: false, localCandidateId: 'L0', remoteCandidateId: 'R1' },
      {
        id: 'P1',
        type: 'candidate-pair',
        state: 'succeeded',
        nominated: true,
        selected: true,
        localCandidateId: 'L1',
        remoteCandidateId: 'R1',
        currentRoundTripTime: 0,
      },
      { id: 'L0', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
      { id: 'L1', type: 'local-candidate', candidateType: 'relay', protocol: 'udp', relayProtocol: 'tcp' },
      { id: 'R1', type: 'remote-candidate', candidateType: 'relay' },
      { id: 'RV', type: 'remote-inbound-rtp', kind: 'video', roundTripTime: 0.042 },
      { id: 'RA', type: 'remote-inbound-rtp', kind: 'audio', roundTripTimeMeasurements: 0, totalRoundTripTime: 0 },
    ];
    const { quality } = summarizeStats(firefox, undefined, 0);
    expect(quality).toMatchObject({ route: 'relay', localCandidate: 'relay/tcp', rttMs: 42 });
    expect(localCandidateType(firefox)).toBe('relay');
  });

  it('computes loss and bitrate over the interval, not since the start', () => {
    const first = summarizeStats(report({ received: 1000, lost: 100, bytes: 100_000 }), undefined, 1000);
    const second = summarizeStats(report({ received: 1900, lost: 200, bytes: 350_000 }), first.sample, 3000);
    // 900 received and 100 lost in the interval
    expect(second.quality.lossPercent).toBe(10);
    expect(second.quality.inboundKbps).toBe(1000);
    expect(second.quality.level).toBe('fair');
  });

  it('says unknown before anything is connected', () => {
    const { quality } = summarizeStats([], undefined, 0);
    expect(quality).toMatchObject({ route: 'unknown', rttMs: undefined, framesDecoded: 0, level: 'unknown' });
  });
});

describe('qualityLevel', () => {
  it('grades', () => {
    expect(qualityLevel(50, 0)).toBe('good');
    expect(qualityLevel(400, 0)).toBe('fair');
    expect(qualityLevel(100, 15)).toBe('poor');
    expect(qualityLevel(undefined, undefined)).toBe('unknown');
  });
});

describe('summarizeUplink (our publisher on the SFU)', () => {
  // Chromium's report of a simulcast publisher: three video outbound-rtp (rid h/m/l) and one audio,
  // each with the node's receiver report (remote-inbound-rtp).
  function publisher({ sent = 1000, lost = 0, bytes = 500_000, rtt = 0.02, jitter = 0.004 } = {}): StatLike[] {
    const layers = ['h', 'm', 'l', 'audio'];
    return [
      { id: 'T1', type: 'transport', selectedCandidatePairId: 'CP1' },
      { id: 'CP1', type: 'candidate-pair', state: 'succeeded', localCandidateId: 'L1', remoteCandidateId: 'R1', currentRoundTripTime: rtt },
      { id: 'L1', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
      { id: 'R1', type: 'remote-candidate', candidateType: 'host' },
      ...layers.map((rid) => ({
        id: `O-${rid}`,
        type: 'outbound-rtp',
        kind: rid === 'audio' ? 'audio' : 'video',
        rid,
        packetsSent: sent / 4,
        bytesSent: bytes / 4,
      })),
      ...layers.map((rid) => ({
        id: `RI-${rid}`,
        type: 'remote-inbound-rtp',
        kind: rid === 'audio' ? 'audio' : 'video',
        packetsLost: lost / 4,
        jitter,
        roundTripTime: rtt,
      })),
    ];
  }

  it('reads the route and the round trip, and no loss before there is an interval', () => {
    const { quality } = summarizeUplink(publisher(), undefined, 1_000);
    expect(quality).toMatchObject({ route: 'direct', localCandidate: 'host/udp', rttMs: 20, jitterMs: 4, level: 'good' });
    expect(quality.lossPercent).toBeUndefined();
    expect(quality.outboundKbps).toBeUndefined();
  });

  it('loss is the share of the packets sent in the interval (every layer) the node reports lost', () => {
    const first = summarizeUplink(publisher({ sent: 1000, lost: 0, bytes: 500_000 }), undefined, 1_000);
    const second = summarizeUplink(publisher({ sent: 2000, lost: 200, bytes: 1_000_000, jitter: 0.03 }), first.sample, 3_000);
    expect(second.quality.lossPercent).toBe(20);
    expect(second.quality.outboundKbps).toBe(2000);
    expect(second.quality.jitterMs).toBe(30);
    expect(second.quality.level).toBe('poor');
    // Nothing new lost: 0 %, good again.
    const third = summarizeUplink(publisher({ sent: 3000, lost: 200, bytes: 1_500_000 }), second.sample, 5_000);
    expect(third.quality).toMatchObject({ lossPercent: 0, level: 'good' });
  });

  it('the RTCP round trip stands in where the pair has none (Firefox)', () => {
    const stats = publisher({ rtt: 0.35 }).map((s) => (s.type === 'candidate-pair' ? { ...s, currentRoundTripTime: 0 } : s));
    expect(summarizeUplink(stats, undefined, 0).quality).toMatchObject({ rttMs: 350, level: 'fair' });
    expect(summarizeUplink([], undefined, 0).quality).toMatchObject({ route: 'unknown', level: 'unknown' });
  });
});
