/**
 * The pre-call check's pieces that need no browser: which TURN transports to probe, and what
 * the results mean in plain words. The lobby component and the ICE probes that fill in
 * `PrecallResult` are not built yet (see the README); this is the part they will share.
 */

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
  /** From the loopback call through the relay; undefined when it could not run. */
  uploadKbps?: number;
  camera: boolean;
  microphone: boolean;
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
  const rtts = r.transports.flatMap((x) => (x.reachable && x.rttMs !== undefined ? [x.rttMs] : []));
  const rtt = rtts.length ? Math.min(...rtts) : undefined;
  if (rtt !== undefined && rtt > 300) {
    warn();
    lines.push(`The connection is slow to answer (${Math.round(rtt)} ms); expect a short delay when you talk.`);
  }
  if (r.uploadKbps !== undefined && r.uploadKbps < minUploadKbps) {
    warn();
    lines.push(`Your upload is low (${Math.round(r.uploadKbps)} kbit/s): the other side will see lower-quality video; audio comes first.`);
  } else if (r.uploadKbps !== undefined && r.uploadKbps < goodUploadKbps) {
    lines.push(`Your upload (${Math.round(r.uploadKbps)} kbit/s) is enough for the lesson, not for full video quality.`);
  }
  if (!r.camera) {
    warn();
    lines.push('Your camera is not working; the other side will see your name instead of video.');
  }
  if (!r.microphone) {
    level = 'bad';
    lines.push('Your microphone is not working; the other side will not hear you.');
  }
  if (lines.length === 0) lines.push('Everything works: your network, camera and microphone are ready for the lesson.');
  return { level, lines };
}
