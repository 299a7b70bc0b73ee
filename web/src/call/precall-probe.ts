/**
 * The pre-call check's probes, on the browser's own RTCPeerConnection: one relay-only
 * connection per TURN transport (does it gather a relay candidate?), then a short loopback
 * call between two local connections through the relay, sending the lobby's camera and
 * microphone, sampled with getStats. What the numbers mean is decided in precall.ts.
 */
import { isRelayCandidate, type LoopbackSample, loopbackSample, type TransportResult, type TurnTransport } from './precall';
import type { StatLike } from './stats';

export interface ProbeOptions {
  /** How long a relay allocation may take before the transport counts as blocked. */
  relayTimeoutMs: number;
  /** How long the loopback call may take to connect. */
  connectTimeoutMs: number;
  /** How long video is sent once connected (the upload estimate needs a few seconds). */
  sendMs: number;
  sampleEveryMs: number;
  createPeerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  now: () => number;
}

export const defaultProbeOptions: ProbeOptions = {
  relayTimeoutMs: 5_000,
  connectTimeoutMs: 8_000,
  sendMs: 5_000,
  sampleEveryMs: 500,
  createPeerConnection: (config) => new RTCPeerConnection(config),
  now: () => globalThis.performance?.now() ?? Date.now(),
};

/** One TURN URL with its credential: the browser may use nothing else. */
export function singleUrlServer(server: RTCIceServer, url: string): RTCIceServer {
  return { urls: [url], ...(server.username ? { username: server.username } : {}), ...(server.credential ? { credential: server.credential } : {}) };
}

function relayOnly(server: RTCIceServer): RTCConfiguration {
  return { iceServers: [server], iceTransportPolicy: 'relay' };
}

class Aborted extends Error {
  override readonly name = 'AbortError';
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted('cancelled'));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Aborted('cancelled'));
      },
      { once: true },
    );
  });

/**
 * Can this browser allocate a relay through `server` (one URL)? A data channel gives the
 * offer something to gather for; the first relay candidate answers yes, gathering complete
 * without one (or the timeout) answers no. `rttMs`: time to that candidate, roughly the
 * allocation's round trips.
 */
export async function probeRelay(
  transport: TurnTransport,
  server: RTCIceServer,
  signal: AbortSignal,
  o: ProbeOptions = defaultProbeOptions,
): Promise<TransportResult> {
  const pc = o.createPeerConnection(relayOnly(server));
  const started = o.now();
  try {
    pc.createDataChannel('precall');
    const found = new Promise<TransportResult>((resolve) => {
      const timer = setTimeout(() => resolve({ transport, reachable: false }), o.relayTimeoutMs);
      const done = (r: TransportResult) => {
        clearTimeout(timer);
        resolve(r);
      };
      pc.addEventListener('icecandidate', (e) => {
        if (e.candidate && isRelayCandidate(e.candidate)) done({ transport, reachable: true, rttMs: Math.round(o.now() - started) });
        else if (!e.candidate) done({ transport, reachable: false });
      });
      signal.addEventListener('abort', () => done({ transport, reachable: undefined }), { once: true });
    });
    await pc.setLocalDescription(await pc.createOffer());
    const r = await found;
    if (signal.aborted) throw new Aborted('cancelled');
    return r;
  } finally {
    pc.close();
  }
}

export interface LoopbackTracks {
  audio: MediaStreamTrack | undefined;
  video: MediaStreamTrack | undefined;
}

/**
 * A call from this browser to itself through the relay: `a` sends clones of the lobby's
 * tracks (enabled even when the lobby has the microphone muted: nobody else hears it), `b`
 * receives. Both are relay-only on the same single URL, so every packet crosses the TURN
 * server twice, as a relayed lesson's would. Undefined when it does not connect in time.
 */
export async function loopbackCall(
  server: RTCIceServer,
  tracks: LoopbackTracks,
  signal: AbortSignal,
  o: ProbeOptions = defaultProbeOptions,
): Promise<LoopbackSample[] | undefined> {
  const a = o.createPeerConnection(relayOnly(server));
  const b = o.createPeerConnection(relayOnly(server));
  const clones = [tracks.audio, tracks.video].flatMap((t) => (t && t.readyState === 'live' ? [t.clone()] : []));
  try {
    const stream = new MediaStream(clones);
    for (const t of clones) {
      t.enabled = true;
      a.addTrack(t, stream);
    }
    // Without media there is still a connection to time and measure.
    if (clones.length === 0) a.createDataChannel('precall');
    // A relay candidate on loopback can be out before the other side has a description to add it to.
    const aReady = deferred();
    const bReady = deferred();
    const forward = (from: RTCPeerConnection, to: RTCPeerConnection, ready: Promise<void>) =>
      from.addEventListener('icecandidate', (e) => {
        const c = e.candidate;
        if (c) void ready.then(() => to.addIceCandidate(c)).catch(() => {});
      });
    forward(a, b, bReady.promise);
    forward(b, a, aReady.promise);
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription as RTCSessionDescriptionInit);
    bReady.resolve();
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription as RTCSessionDescriptionInit);
    aReady.resolve();

    const connectBy = o.now() + o.connectTimeoutMs;
    while (a.connectionState !== 'connected' || b.connectionState !== 'connected') {
      if (o.now() > connectBy || a.connectionState === 'failed' || b.connectionState === 'failed') return undefined;
      await sleep(50, signal);
    }
    const samples: LoopbackSample[] = [];
    const sendUntil = o.now() + o.sendMs;
    for (;;) {
      const [sent, received] = await Promise.all([a.getStats(), b.getStats()]);
      if (signal.aborted) throw new Aborted('cancelled');
      samples.push(loopbackSample(statList(sent), statList(received), o.now(), sourceLevel(b)));
      if (o.now() >= sendUntil) return samples;
      await sleep(o.sampleEveryMs, signal);
    }
  } finally {
    a.close();
    b.close();
    for (const t of clones) t.stop();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function statList(report: RTCStatsReport): StatLike[] {
  return [...(report.values() as Iterable<StatLike>)];
}

/** The receiver's latest audio level from its synchronization sources (where RTP stats have none). */
function sourceLevel(pc: RTCPeerConnection): number {
  let level = 0;
  for (const r of pc.getReceivers()) {
    if (r.track.kind !== 'audio') continue;
    for (const s of r.getSynchronizationSources?.() ?? []) level = Math.max(level, s.audioLevel ?? 0);
  }
  return level;
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
