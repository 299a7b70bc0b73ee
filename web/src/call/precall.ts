/**
 * The pre-call check's pieces that need no browser: which TURN transports to probe, which one
 * the loopback call uses, what its getStats samples measure, and what the results mean in plain
 * words. The probes themselves (RTCPeerConnection) are in precall-probe.ts, the run's state
 * machine in precall-check.ts, the lobby's view in ui/PrecallCheck.tsx.
 */
import { outboundPath } from './adaptation';
import { type StatLike, summarizeStats } from './stats';

export type TurnTransport = 'udp' | 'tcp' | 'tls';

export interface TransportResult {
  transport: TurnTransport;
  /** A relay candidate was gathered through this transport; undefined: not offered by the server. */
  reachable: boolean | undefined;
  /** Time to the relay candidate (the TURN allocation's round trip, roughly). */
  rttMs?: number;
}

export interface PrecallResult {
  transports: TransportResult[];
  /** Round trip of the loopback call through the relay (to it and back); else the fastest allocation. */
  rttMs?: number;
  /** From the loopback call through the relay; undefined when it could not run. */
  uploadKbps?: number;
  /**
   * False: the browser gave no bandwidth estimate (Firefox), so uploadKbps is only what five
   * seconds of a ramping sender sent — a floor that says nothing about "full quality".
   */
  uploadEstimated?: boolean;
  /** The relay was reached but the loopback call through it did not connect. */
  loopbackFailed?: boolean;
  /** Frames decoded at the far end of the loopback call; undefined: the camera is off, not tested. */
  camera: boolean | undefined;
  /** The microphone's sound was captured and sent, or arrived, in the loopback call; undefined: not tested. */
  microphone: boolean | undefined;
}

export interface PrecallVerdict {
  /** 'good': nothing to say; 'warn': the lesson works, with a caveat; 'bad': it will not. */
  level: 'good' | 'warn' | 'bad';
  lines: string[];
}

/** One ICE server per TURN URL: `turn:h:p?transport=udp` → udp, `?transport=tcp` → tcp, `turns:` → tls. */
export function turnUrlsByTransport(urls: readonly string[]): Partial<Record<TurnTransport, string>> {
  const out: Partial<Record<TurnTransport, string>> = {};
  for (const url of urls) {
    const t = transportOf(url);
    if (t && !out[t]) out[t] = url;
  }
  return out;
}

function transportOf(url: string): TurnTransport | undefined {
  const lower = url.toLowerCase();
  if (lower.startsWith('turns:')) return 'tls';
  if (!lower.startsWith('turn:')) return undefined; // stun: gives no relay
  return /[?&]transport=tcp\b/.test(lower) ? 'tcp' : 'udp';
}

/** Below this, a 640×360 camera plus audio will not keep up. */
const minUploadKbps = 300;
/** Comfortable for the lesson's full camera quality. */
const goodUploadKbps = 1200;

export function describePrecall(r: PrecallResult): PrecallVerdict {
  const lines: string[] = [];
  let level: PrecallVerdict['level'] = 'good';
  const warn = () => {
    if (level === 'good') level = 'warn';
  };
  const by = (t: TurnTransport) => r.transports.find((x) => x.transport === t)?.reachable;
  const anyRelay = r.transports.some((x) => x.reachable);
  if (!anyRelay) {
    level = 'bad';
    lines.push('We could not reach our relay server. Your network or firewall blocks it; try another network (a phone hotspot works).');
  } else if (by('udp') === false) {
    warn();
    const via = by('tcp') ? 'TCP' : 'TLS';
    lines.push(`Your network blocks UDP; the lesson will still work through our relay over ${via}, with a little more delay.`);
  }
  if (anyRelay && r.loopbackFailed) {
    warn();
    lines.push('We reached our relay, but a test call through it did not connect. If the lesson does not connect either, try another network.');
  }
  const rtts = r.transports.flatMap((x) => (x.reachable && x.rttMs !== undefined ? [x.rttMs] : []));
  const rtt = r.rttMs ?? (rtts.length ? Math.min(...rtts) : undefined);
  if (rtt !== undefined && rtt > 300) {
    warn();
    lines.push(`The connection is slow to answer (${Math.round(rtt)} ms); expect a short delay when you talk.`);
  }
  if (r.uploadKbps !== undefined && r.uploadKbps < minUploadKbps) {
    warn();
    lines.push(`Your upload is low (${Math.round(r.uploadKbps)} kbit/s): the other side will see lower-quality video; audio comes first.`);
  } else if (r.uploadKbps !== undefined && r.uploadKbps < goodUploadKbps && r.uploadEstimated !== false) {
    lines.push(`Your upload (${Math.round(r.uploadKbps)} kbit/s) is enough for the lesson, not for full video quality.`);
  }
  if (r.camera === false) {
    warn();
    lines.push('Your camera is not working; the other side will see your name instead of video.');
  } else if (r.camera === undefined) {
    lines.push('Your camera is off, so it was not tested.');
  }
  if (r.microphone === false) {
    level = 'bad';
    lines.push('Your microphone is not working; the other side will not hear you.');
  }
  if (lines.length === 0) lines.push('Everything works: your network, camera and microphone are ready for the lesson.');
  return { level, lines };
}

/** The transport the loopback call (and the lesson, when it must relay) uses: UDP first. */
export function loopbackTransport(results: readonly TransportResult[]): TurnTransport | undefined {
  for (const t of ['udp', 'tcp', 'tls'] as const) if (results.some((r) => r.transport === t && r.reachable)) return t;
  return undefined;
}

/** A gathered candidate is a relay one (Firefox and Chromium both fill `type`; the SDP line always says it). */
export function isRelayCandidate(c: { type?: string | null; candidate: string }): boolean {
  return c.type === 'relay' || / typ relay( |$)/.test(c.candidate);
}

/** One look at both ends of the loopback call. */
export interface LoopbackSample {
  atMs: number;
  /** The sender's round trip (candidate pair, or RTCP where the pair says 0: Firefox). */
  rttMs: number | undefined;
  /** The sender's bandwidth estimate (Chromium only). */
  availableOutgoingKbps: number | undefined;
  /** Everything the sender has sent, audio and video. */
  bytesSent: number;
  /** Video frames the receiving end decoded. */
  framesDecoded: number;
  /** Sound: energy so far and the latest level, as captured at the sender (media-source) or received (RTP stats, the receiver's sources). */
  audioEnergy: number;
  audioLevel: number;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function loopbackSample(sender: readonly StatLike[], receiver: readonly StatLike[], atMs: number, sourceAudioLevel = 0): LoopbackSample {
  let bytesSent = 0;
  let audioEnergy = 0;
  let audioLevel = sourceAudioLevel;
  const sound = (s: StatLike) => {
    audioEnergy += num(s.totalAudioEnergy) ?? 0;
    audioLevel = Math.max(audioLevel, num(s.audioLevel) ?? 0);
  };
  for (const s of sender) {
    if (s.type === 'outbound-rtp') bytesSent += num(s.bytesSent) ?? 0;
    // What the microphone captured (Chromium): its receiving end decodes no audio that nothing plays.
    else if (s.type === 'media-source' && s.kind === 'audio') sound(s);
  }
  // What arrived (Firefox measures it without playing it).
  for (const s of receiver) if (s.type === 'inbound-rtp' && s.kind === 'audio') sound(s);
  return {
    atMs,
    rttMs: summarizeStats(sender, undefined, atMs).quality.rttMs,
    availableOutgoingKbps: outboundPath(sender, undefined).availableOutgoingKbps,
    bytesSent,
    framesDecoded: summarizeStats(receiver, undefined, atMs).quality.framesDecoded,
    audioEnergy,
    audioLevel,
  };
}

/** Send rates are read over at least this long: one sample apart is mostly jitter. */
const rateWindowMs = 900;

/**
 * What the loopback call measured. The upload is a lower bound: the larger of the sender's
 * bandwidth estimate and what it actually sent per second — a few seconds is not long enough
 * for congestion control to find the ceiling of a fast line, and a slow one shows at once.
 */
export function loopbackMeasures(
  samples: readonly LoopbackSample[],
  tested: { camera: boolean; microphone: boolean },
): Pick<PrecallResult, 'rttMs' | 'uploadKbps' | 'uploadEstimated' | 'camera' | 'microphone'> {
  const rtts = samples.flatMap((s) => (s.rttMs !== undefined ? [s.rttMs] : [])).sort((a, b) => a - b);
  const rttMs = rtts.length ? rtts[Math.floor(rtts.length / 2)] : undefined;
  let upload: number | undefined;
  const better = (kbps: number | undefined) => {
    if (kbps !== undefined && kbps > 0) upload = Math.max(upload ?? 0, kbps);
  };
  for (const [i, s] of samples.entries()) {
    better(s.availableOutgoingKbps);
    const from = samples.slice(0, i).findLast((p) => s.atMs - p.atMs >= rateWindowMs);
    if (from) better(((s.bytesSent - from.bytesSent) * 8) / (s.atMs - from.atMs));
  }
  const last = samples.at(-1);
  return {
    ...(rttMs !== undefined ? { rttMs } : {}),
    ...(upload !== undefined ? { uploadKbps: Math.round(upload), uploadEstimated: samples.some((s) => s.availableOutgoingKbps !== undefined) } : {}),
    camera: tested.camera ? (last?.framesDecoded ?? 0) > 0 : undefined,
    microphone: tested.microphone ? samples.some((s) => s.audioEnergy > 0 || s.audioLevel > 0) : undefined,
  };
}
