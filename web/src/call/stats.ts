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

/** How media travels (the selected pair's ends) and the pair's round trip, where the browser measures it. */
function transportOf(byId: ReadonlyMap<string, StatLike>): { route: Route; localCandidate: string | undefined; pairRttMs: number | undefined } {
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
  return {
    route,
    localCandidate: localType ? `${localType}${protocol ? `/${protocol}` : ''}` : undefined,
    pairRttMs: pairRtt !== undefined && pairRtt > 0 ? pairRtt * 1000 : undefined,
  };
}

const byIdOf = (stats: Iterable<StatLike>) => {
  const byId = new Map<string, StatLike>();
  for (const s of stats) byId.set(s.id, s);
  return byId;
};

export function summarizeStats(stats: Iterable<StatLike>, previous: StatsSample | undefined, nowMs: number): { quality: PeerQuality; sample: StatsSample } {
  const byId = byIdOf(stats);
  const { route, localCandidate, pairRttMs } = transportOf(byId);
  let rttMs = pairRttMs;
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
      localCandidate,
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

/** Our own uplink on the SFU: what the node reports back about what we publish (RTCP receiver reports). */
export interface UplinkQuality {
  rttMs: number | undefined;
  /** Of the packets we sent in the last interval, the share the node reports lost, 0–100. */
  lossPercent: number | undefined;
  /** The node's interarrival jitter of our packets, ms (the worst stream). */
  jitterMs: number | undefined;
  route: Route;
  localCandidate: string | undefined;
  outboundKbps: number | undefined;
  level: QualityLevel;
}

export interface UplinkSample {
  atMs: number;
  packetsSent: number;
  packetsLost: number;
  bytesSent: number;
}

/**
 * The publisher connection's outbound-rtp (what we sent, every simulcast layer) and
 * remote-inbound-rtp (what the node says of it: lost, jitter, round trip), over the interval
 * since `previous`.
 */
export function summarizeUplink(
  stats: Iterable<StatLike>,
  previous: UplinkSample | undefined,
  nowMs: number,
): { quality: UplinkQuality; sample: UplinkSample } {
  const byId = byIdOf(stats);
  const { route, localCandidate, pairRttMs } = transportOf(byId);
  let rttMs = pairRttMs;
  let packetsSent = 0;
  let packetsLost = 0;
  let bytesSent = 0;
  let jitterMs: number | undefined;
  for (const s of byId.values()) {
    if (s.type === 'outbound-rtp') {
      packetsSent += num(s.packetsSent) ?? 0;
      bytesSent += num(s.bytesSent) ?? 0;
    } else if (s.type === 'remote-inbound-rtp') {
      packetsLost += Math.max(0, num(s.packetsLost) ?? 0);
      const jitter = num(s.jitter);
      if (jitter !== undefined) jitterMs = Math.max(jitterMs ?? 0, jitter * 1000);
      if (rttMs === undefined && (num(s.roundTripTime) ?? 0) > 0) rttMs = (num(s.roundTripTime) as number) * 1000;
    }
  }
  const sample: UplinkSample = { atMs: nowMs, packetsSent, packetsLost, bytesSent };
  let lossPercent: number | undefined;
  let outboundKbps: number | undefined;
  if (previous && nowMs > previous.atMs) {
    const sent = packetsSent - previous.packetsSent;
    const lost = Math.max(0, packetsLost - previous.packetsLost);
    if (sent > 0) lossPercent = Math.min(100, (100 * lost) / sent);
    outboundKbps = ((bytesSent - previous.bytesSent) * 8) / (nowMs - previous.atMs);
  }
  return {
    quality: {
      rttMs: rttMs === undefined ? undefined : Math.round(rttMs),
      lossPercent: lossPercent === undefined ? undefined : Math.round(lossPercent * 10) / 10,
      jitterMs: jitterMs === undefined ? undefined : Math.round(jitterMs),
      route,
      localCandidate,
      outboundKbps: outboundKbps === undefined ? undefined : Math.round(outboundKbps),
      level: qualityLevel(rttMs, lossPercent),
    },
    sample,
  };
}
