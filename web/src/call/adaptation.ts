/**
 * How much video this side sends, from what getStats says about the path: loss the other side
 * reports for our video (remote-inbound-rtp), round-trip time, and the browser's own estimate of
 * the outgoing bandwidth (`availableOutgoingBitrate`, Chromium only — Firefox has no such field,
 * so there loss and RTT decide alone). Pure: the controller feeds it samples and applies the
 * level with `RTCRtpSender.setParameters`; audio is never touched, it keeps priority.
 *
 * Down at once, up one step at a time after the path has been good for `recoverAfterMs`
 * (hysteresis, so a bursty Wi-Fi does not make the picture pump).
 */

export interface VideoLevel {
  name: 'full' | 'reduced' | 'low' | 'minimal';
  maxBitrateKbps: number;
  scaleResolutionDownBy: number;
  maxFramerate: number;
}

export const videoLevels: readonly VideoLevel[] = [
  { name: 'full', maxBitrateKbps: 1500, scaleResolutionDownBy: 1, maxFramerate: 30 },
  { name: 'reduced', maxBitrateKbps: 600, scaleResolutionDownBy: 1.5, maxFramerate: 24 },
  { name: 'low', maxBitrateKbps: 250, scaleResolutionDownBy: 2, maxFramerate: 15 },
  { name: 'minimal', maxBitrateKbps: 100, scaleResolutionDownBy: 4, maxFramerate: 8 },
];

export interface PathSample {
  /** Loss the receiver reports for the video we send, 0–100, over the last interval. */
  outboundLossPercent: number | undefined;
  /** Loss on what we receive, 0–100: high while ours is fine means the other side is weak. */
  inboundLossPercent: number | undefined;
  rttMs: number | undefined;
  availableOutgoingKbps: number | undefined;
  /** What our video actually sent over the interval, kbps (undefined: not known yet). */
  sentKbps?: number | undefined;
}

export interface AdaptationState {
  /** Index into videoLevels. */
  level: number;
  /** Since when every sample has been good (undefined: the last one was not). */
  goodSince: number | undefined;
  /** Since when we have been at the lowest level and still struggling. */
  strugglingSince: number | undefined;
  /** When we last stepped up, while that step is on trial (undefined: none is). */
  upAt?: number | undefined;
  /** How long the path must be good before the next step up: recoverAfterMs, doubled for each step up the estimate undid. */
  waitMs?: number | undefined;
}

export interface Adaptation {
  state: AdaptationState;
  video: VideoLevel;
  /** Our own uplink is the weak one: tell the user, it is theirs to fix. */
  weakLocal: boolean;
  /** The other side's path is the weak one (their video to us suffers, ours to them does not). */
  weakRemote: boolean;
  /** Even the lowest level does not get through: offer to turn the camera off. */
  offerAudioOnly: boolean;
}

/** What the user is told about the network: the weakest peer decides; each link's sender adapts on its own. */
export interface NetworkState {
  video: VideoLevel['name'];
  /** Our own connection is the weak one. */
  weakLocal: boolean;
  /** Even the lowest video level does not get through: the call offers audio only. */
  offerAudioOnly: boolean;
}

export const calmNetwork: NetworkState = { video: 'full', weakLocal: false, offerAudioOnly: false };

/** The network as the user sees it, from every link's latest adaptation; no audio-only offer while the camera is off already. */
export function networkState(adaptations: readonly Adaptation[], cameraOff: boolean): NetworkState {
  const worst = adaptations.reduce<Adaptation | undefined>((w, a) => (!w || a.state.level > w.state.level ? a : w), undefined);
  return {
    video: worst?.video.name ?? 'full',
    weakLocal: adaptations.some((a) => a.weakLocal),
    offerAudioOnly: adaptations.some((a) => a.offerAudioOnly) && !cameraOff,
  };
}

export interface AdaptationPolicy {
  recoverAfterMs: number;
  audioOnlyAfterMs: number;
  /** Loss above this steps down. */
  lossDownPercent: number;
  /** Loss above this (and below lossDownPercent) holds: no step up. */
  lossHoldPercent: number;
  rttDownMs: number;
  /** The longest a step up waits after steps up that did not hold. */
  maxWaitMs: number;
  /**
   * How long a connection's bandwidth estimate is not listened to after its video starts: the
   * browser starts it low (libwebrtc: 300 kbps) and ramps it up over the first seconds, which is
   * no news about the path (loss and round trip still count from the first sample).
   */
  estimateRampUpMs: number;
}

export const defaultPolicy: AdaptationPolicy = {
  recoverAfterMs: 8_000,
  audioOnlyAfterMs: 10_000,
  lossDownPercent: 8,
  lossHoldPercent: 2,
  rttDownMs: 600,
  maxWaitMs: 64_000,
  estimateRampUpMs: 10_000,
};

export const initialAdaptation: AdaptationState = { level: 0, goodSince: undefined, strugglingSince: undefined };

const lowest = videoLevels.length - 1;

export function adapt(state: AdaptationState, s: PathSample, nowMs: number, policy: AdaptationPolicy = defaultPolicy): Adaptation {
  const loss = s.outboundLossPercent ?? 0;
  const rtt = s.rttMs ?? 0;
  // The highest level that fits in the bandwidth estimate, with headroom for audio and overhead.
  // The estimate only binds while we use it: a sender well below it (a still picture, or our own
  // cap) has not asked the path for more, so an estimate that stayed low says nothing against it.
  const estimate = s.availableOutgoingKbps;
  const binding = estimate !== undefined && (s.sentKbps === undefined || s.sentKbps >= estimate * 0.6);
  let fits = 0;
  if (binding) {
    while (fits < lowest && (videoLevels[fits]?.maxBitrateKbps ?? 0) > estimate * 0.85) fits++;
  }
  const lossy = loss > policy.lossDownPercent;
  const slow = rtt > policy.rttDownMs;
  const bad = lossy || slow || fits > state.level;
  const shaky = loss > policy.lossHoldPercent;

  let level = state.level;
  let goodSince = state.goodSince;
  let upAt = state.upAt;
  let waitMs = state.waitMs ?? policy.recoverAfterMs;
  if (bad) {
    level = Math.min(lowest, Math.max(fits, lossy || slow ? state.level + 1 : state.level));
    goodSince = undefined;
    // A step up undone within its trial: the next one waits twice as long (no pumping picture).
    if (upAt !== undefined && nowMs - upAt < waitMs) waitMs = Math.min(policy.maxWaitMs, waitMs * 2);
    upAt = undefined;
  } else if (shaky) {
    goodSince = undefined;
  } else {
    goodSince ??= nowMs;
    // A step up that held for its trial resets the wait.
    if (upAt !== undefined && nowMs - upAt >= waitMs) {
      upAt = undefined;
      waitMs = policy.recoverAfterMs;
    }
    // Up when the estimate carries what we send now: a capped sender cannot show that the next
    // level fits (the estimate follows what is sent), so the step up is the probe, on trial.
    if (level > 0 && level >= fits && nowMs - goodSince >= waitMs) {
      level -= 1;
      goodSince = nowMs; // the next step up waits a full interval again
      upAt = nowMs;
    }
  }
  const struggling = level === lowest && (lossy || slow || (s.availableOutgoingKbps ?? Number.POSITIVE_INFINITY) < (videoLevels[lowest]?.maxBitrateKbps ?? 0));
  const strugglingSince = struggling ? (state.strugglingSince ?? nowMs) : undefined;
  const weakLocal = level >= 2 || (level >= 1 && bad);
  const weakRemote = !weakLocal && (s.inboundLossPercent ?? 0) > policy.lossDownPercent;
  return {
    state: { level, goodSince, strugglingSince, upAt, waitMs },
    video: videoLevels[level] as VideoLevel,
    weakLocal,
    weakRemote,
    offerAudioOnly: strugglingSince !== undefined && nowMs - strugglingSince >= policy.audioOnlyAfterMs,
  };
}

/** The bandwidth estimate as `adapt` should see it: none until the connection's video has been sending for the ramp-up. */
export function trustedEstimate(kbps: number | undefined, sendingForMs: number | undefined, policy: AdaptationPolicy = defaultPolicy): number | undefined {
  return sendingForMs !== undefined && sendingForMs >= policy.estimateRampUpMs ? kbps : undefined;
}

/**
 * The encoding parameters for a level. A shared screen (contentHint "detail") keeps its
 * resolution — text must stay readable — and gives up frame rate instead.
 */
export function encodingFor(level: VideoLevel, contentHint: string | undefined): { maxBitrate: number; scaleResolutionDownBy: number; maxFramerate: number } {
  const detail = contentHint === 'detail' || contentHint === 'text';
  return {
    maxBitrate: level.maxBitrateKbps * 1000,
    scaleResolutionDownBy: detail ? 1 : level.scaleResolutionDownBy,
    maxFramerate: detail ? Math.min(level.maxFramerate, 15) : level.maxFramerate,
  };
}

/** Counters kept between samples for the outbound side. */
export interface OutboundSample {
  packetsSent: number;
  packetsLost: number;
  bytesSent: number;
  /** The outbound-rtp stats' own timestamp, ms. */
  atMs: number | undefined;
}

type StatLike = { id: string; type: string } & Record<string, unknown>;
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The sender's view from getStats: loss on our video over the interval (from what the receiver
 * reports in RTCP, remote-inbound-rtp) and the bandwidth estimate on the selected pair.
 */
export function outboundPath(
  stats: Iterable<StatLike>,
  previous: OutboundSample | undefined,
): { outboundLossPercent: number | undefined; availableOutgoingKbps: number | undefined; sentKbps: number | undefined; sample: OutboundSample } {
  let packetsSent = 0;
  let packetsLost = 0;
  let bytesSent = 0;
  let atMs: number | undefined;
  let available: number | undefined;
  for (const s of stats) {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      packetsSent += num(s.packetsSent) ?? 0;
      bytesSent += num(s.bytesSent) ?? 0;
      atMs ??= num(s.timestamp);
    } else if (s.type === 'remote-inbound-rtp' && s.kind === 'video') packetsLost += Math.max(0, num(s.packetsLost) ?? 0);
    else if (s.type === 'candidate-pair' && (s.selected === true || s.nominated === true) && s.state === 'succeeded') {
      const a = num(s.availableOutgoingBitrate);
      if (a !== undefined) available = a / 1000;
    }
  }
  const sample = { packetsSent, packetsLost, bytesSent, atMs };
  let outboundLossPercent: number | undefined;
  let sentKbps: number | undefined;
  if (previous) {
    const sent = packetsSent - previous.packetsSent;
    const lost = Math.max(0, packetsLost - previous.packetsLost);
    if (sent > 0) outboundLossPercent = Math.min(100, (100 * lost) / sent);
    const ms = atMs !== undefined && previous.atMs !== undefined ? atMs - previous.atMs : 0;
    if (ms > 0 && bytesSent >= previous.bytesSent) sentKbps = ((bytesSent - previous.bytesSent) * 8) / ms;
  }
  return { outboundLossPercent, availableOutgoingKbps: available, sentKbps, sample };
}
