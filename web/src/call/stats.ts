/**
 * Connection quality of one peer from RTCPeerConnection.getStats(): round-trip time, packet
 * loss since the previous sample, whether media goes through the TURN relay or directly, and
 * decoded video frames. Pure, so it is tested with plain stats objects.
 */

export type Route = 'relay' | 'direct' | 'unknown';
export type QualityLevel = 'good' | 'fair' | 'poor' | 'unknown';

export interface PeerQuality {
  rttMs: number | undefined;
  /** Inbound packet loss over the last interval, 0–100. */
  lossPercent: number | undefined;
  route: Route;
  /** e.g. "relay/udp" — candidate type and protocol of the local end of the selected pair. */
  localCandidate: string | undefined;
  framesDecoded: number;
  framesPerSecond: number | undefined;
  inboundKbps: number | undefined;
  level: QualityLevel;
}

/** Counters kept between samples to compute rates. */
export interface StatsSample {
  atMs: number;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
}

export type StatLike = { id: string; type: string } & Record<string, unknown>;

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * The candidate pair media flows on. Chromium names it on the transport
 * (`selectedCandidatePairId`); Firefox has no such field and marks the pair `selected: true`.
 */
export function selectedPair(byId: ReadonlyMap<string, StatLike>): StatLike | undefined {
  for (const s of byId.values()) {
    if (s.type === 'transport' && str(s.selectedCandidatePairId)) {
      const pair = byId.get(s.selectedCandidatePairId as string);
      if (pair) return pair;
    }
  }
  let nominated: StatLike | undefined;
  for (const s of byId.values()) {
    if (s.type !== 'candidate-pair' || s.state !== 'succeeded') continue;
    if (s.selected === true) return s;
    if (s.nominated === true) nominated ??= s;
  }
  return nominated;
}

/** "relay", "host", … of the local end of the selected pair. */
export function localCandidateType(stats: Iterable<StatLike>): string | undefined {
  const byId = new Map<string, StatLike>();
  for (const s of stats) byId.set(s.id, s);
  const pair = selectedPair(byId);
  return str(byId.get(str(pair?.localCandidateId) ?? '')?.candidateType);
}

export function summarizeStats(stats: Iterable<StatLike>, previous: StatsSample | undefined, nowMs: number): { quality: PeerQuality; sample: StatsSample } {
  const byId = new Map<string, StatLike>();
  for (const s of stats) byId.set(s.id, s);

  const pair = selectedPair(byId);
  const local = pair ? byId.get(str(pair.localCandidateId) ?? '') : undefined;
  const remote = pair ? byId.get(str(pair.remoteCandidateId) ?? '') : undefined;
  const localType = str(local?.candidateType);
  const remoteType = str(remote?.candidateType);
  const route: Route = !pair || !localType ? 'unknown' : localType === 'relay' || remoteType === 'relay' ? 'relay' : 'direct';
  const protocol = str(local?.relayProtocol) ?? str(local?.protocol);

  // Firefox reports currentRoundTripTime 0 on every pair: 0 means "not measured" there, and the
  // RTCP round trip (remote-inbound-rtp) stands in.
  const pairRtt = num(pair?.currentRoundTripTime);
  let rttMs = pairRtt !== undefined && pairRtt > 0 ? pairRtt * 1000 : undefined;
  let packetsReceived = 0;
  let packetsLost = 0;
  let bytesReceived = 0;
  let framesDecoded = 0;
  let framesPerSecond: number | undefined;
  for (const s of byId.values()) {
    if (s.type === 'inbound-rtp') {
      packetsReceived += num(s.packetsReceived) ?? 0;
      packetsLost += Math.max(0, num(s.packetsLost) ?? 0);
      bytesReceived += num(s.bytesReceived) ?? 0;
      if (s.kind === 'video') {
        framesDecoded += num(s.framesDecoded) ?? 0;
        framesPerSecond = num(s.framesPerSecond) ?? framesPerSecond;
      }
    } else if (s.type === 'remote-inbound-rtp' && rttMs === undefined && (num(s.roundTripTime) ?? 0) > 0) {
      rttMs = (num(s.roundTripTime) as number) * 1000;
    }
  }

  const sample: StatsSample = { atMs: nowMs, packetsReceived, packetsLost, bytesReceived };
  let lossPercent: number | undefined;
  let inboundKbps: number | undefined;
  if (previous && nowMs > previous.atMs) {
    const received = packetsReceived - previous.packetsReceived;
    const lost = packetsLost - previous.packetsLost;
    if (received + lost > 0) lossPercent = (100 * Math.max(0, lost)) / (received + Math.max(0, lost));
    inboundKbps = ((bytesReceived - previous.bytesReceived) * 8) / (nowMs - previous.atMs);
  }

  return {
    quality: {
      rttMs: rttMs === undefined ? undefined : Math.round(rttMs),
      lossPercent: lossPercent === undefined ? undefined : Math.round(lossPercent * 10) / 10,
      route,
      localCandidate: localType ? `${localType}${protocol ? `/${protocol}` : ''}` : undefined,
      framesDecoded,
      framesPerSecond,
      inboundKbps: inboundKbps === undefined ? undefined : Math.round(inboundKbps),
      level: qualityLevel(rttMs, lossPercent),
    },
    sample,
  };
}

/** Thresholds where a conversation starts to suffer (ITU-T G.114 puts one-way delay trouble near 150–400 ms). */
export function qualityLevel(rttMs: number | undefined, lossPercent: number | undefined): QualityLevel {
  if (rttMs === undefined && lossPercent === undefined) return 'unknown';
  const rtt = rttMs ?? 0;
  const loss = lossPercent ?? 0;
  if (rtt > 800 || loss > 10) return 'poor';
  if (rtt > 300 || loss > 3) return 'fair';
  return 'good';
}
