/**
 * A lesson participant as the browser is one, in Node: a WebSocket to a gateway (hello, resume
 * on another gateway when its socket drops or the gateway drains) and a real RTCPeerConnection
 * (@roamhq/wrtc) sending and receiving a small video track through coturn. Used by the drill in
 * its own process and, for the network faults, inside a network namespace (peer-child.ts).
 */
import { randomUUID } from 'node:crypto';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';

// @roamhq/wrtc's typings lean on the DOM lib, which this project does not load: what is used here, by hand.
interface Track {
  kind: string;
  stop(): void;
}
interface PeerConnection {
  connectionState: string;
  iceConnectionState: string;
  onicecandidate: ((e: { candidate: { toJSON(): IceCandidateJson } | null }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  ontrack: ((e: { track: Track }) => void) | null;
  addTrack(track: Track): unknown;
  createOffer(options?: { iceRestart?: boolean }): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: IceCandidateJson): Promise<void>;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
  signalingState: string;
  close(): void;
}
interface IceCandidateJson {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}
interface VideoSource {
  createTrack(): Track;
  onFrame(frame: { width: number; height: number; data: Uint8Array }): void;
}
interface VideoSink {
  onframe: (() => void) | null;
  stop(): void;
}
const w = wrtc as unknown as {
  RTCPeerConnection: new (config: unknown) => PeerConnection;
  nonstandard: { RTCVideoSource: new () => VideoSource; RTCVideoSink: new (track: Track) => VideoSink };
};

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface PeerOptions {
  /** Gateway WebSocket URLs (`ws://…/api/video/ws`); the peer moves to the next when one fails. */
  gateways: string[];
  accessToken: string;
  meetingId: string;
  passcode: string;
  displayName: string;
  /** Rewrites the TURN URLs from welcome (a peer in a namespace reaches coturn through a relay). */
  rewriteTurnUrl?: (url: string) => string;
  /** Video frame interval (default 66 ms, 15 fps). */
  frameIntervalMs?: number;
}

/** What a drill reads of a peer, sampled: counters and the times of the last arrivals. */
export interface PeerSnapshot {
  sessionId: string;
  connectionState: string;
  framesReceived: number;
  lastFrameAt: number;
  probesReceived: number;
  lastProbeAt: number;
  socketCloses: number;
  resumes: number;
  resumeFailures: number;
  errors: Record<string, number>;
  selectedRelayProtocol: string;
  negotiationErrors: number;
}

const width = 160;
const height = 120;

/** Counters a drill reads of one client socket. */
export interface SocketStats {
  socketCloses: number;
  resumes: number;
  resumeFailures: number;
  errors: Record<string, number>;
}

/**
 * A client's WebSocket to the gateways as the web app keeps it: after a drop or a drain's
 * `reconnect` it says hello again with its session's resume token, on the next gateway.
 */
export class ResumableSocket {
  sessionId = '';
  resumeToken = '';
  welcome: Welcome | undefined;
  private ws: WebSocket | undefined;
  private gatewayIndex: number;
  private closed = false;
  readonly stats: SocketStats = { socketCloses: 0, resumes: 0, resumeFailures: 0, errors: {} };
  onMessage: (m: Record<string, Record<string, unknown>>) => void = () => {};
  /** Called when the session could not be resumed (the grace passed): it is over. */
  onLost: (() => void) | undefined;

  constructor(
    private readonly options: PeerOptions,
    firstGateway = 0,
  ) {
    this.gatewayIndex = firstGateway;
  }

  /** The first hello; a gateway that refuses the connection (down, draining) is skipped, as a load balancer would. */
  async open(): Promise<Welcome> {
    let r: Awaited<ReturnType<typeof openAndHello>> | undefined;
    // One key for every try: a welcome lost with its gateway does not leave a second session.
    const joinKey = randomUUID();
    for (let i = 0; !r; i++) {
      try {
        r = await openAndHello(this.options, this.gatewayIndex, { joinKey });
      } catch (err) {
        // `unavailable` and no answer are worth another try (as the web client does), for up to 10 attempts.
        const retryable = !(err instanceof HelloFailed) || err.code === 'unavailable' || err.code === 'timeout';
        if (!retryable || i >= 10) throw err;
        this.gatewayIndex = (this.gatewayIndex + 1) % this.options.gateways.length;
        if (err instanceof HelloFailed) await new Promise((r) => setTimeout(r, 500 * (i + 1)));
      }
    }
    this.welcome = r.welcome;
    this.sessionId = r.welcome.sessionId;
    this.resumeToken = r.welcome.resumeToken;
    this.attach(r.ws);
    return r.welcome;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  count(code: string): void {
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
  }

  send(message: unknown): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  private attach(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Record<string, Record<string, unknown>>;
      if (m.reconnect) {
        // Drain: move to the next gateway after the delay the gateway asked for.
        this.ws = undefined;
        setTimeout(
          () => {
            ws.close();
            void this.reconnect(1);
          },
          Number(m.reconnect.afterMs ?? 0),
        );
        return;
      }
      if (m.error) this.count(String(m.error.code));
      this.onMessage(m);
    });
    ws.once('close', () => {
      this.stats.socketCloses++;
      if (this.ws === ws && !this.closed) void this.reconnect(0);
    });
  }

  /** Back on a gateway with the same session (resume), trying each gateway in turn. */
  private async reconnect(step: number) {
    const gateways = this.options.gateways;
    for (let attempt = 0; !this.closed; attempt++) {
      this.gatewayIndex = (this.gatewayIndex + (attempt === 0 ? step : 1)) % gateways.length;
      try {
        const r = await openAndHello(this.options, this.gatewayIndex, { sessionId: this.sessionId, resumeToken: this.resumeToken });
        if (this.closed) {
          r.ws.close();
          return;
        }
        this.resumeToken = r.welcome.resumeToken || this.resumeToken;
        this.stats.resumes++;
        this.attach(r.ws);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code) this.count(code);
        // A resume the participant service refuses (the grace passed) cannot succeed later.
        if (code === 'resume_rejected' || code === 'meeting_ended' || code === 'meeting_cancelled') {
          this.stats.resumeFailures++;
          this.closed = true;
          this.onLost?.();
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * 2 ** attempt)));
      }
    }
  }

  /** Leaves over the socket: undefined when the gateway confirmed it (a clean close, no error first), else why not. */
  async leave(): Promise<string | undefined> {
    this.closed = true;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return `socket_${ws ? ws.readyState : 'none'}`;
    const errorsBefore = { ...this.stats.errors };
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ requestId: 'leave', leave: {} }));
    const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    const newErrors = Object.keys(this.stats.errors).filter((k) => (this.stats.errors[k] ?? 0) > (errorsBefore[k] ?? 0));
    if (code === 1000 && newErrors.length === 0) return undefined;
    return newErrors[0] ?? `close_${code}`;
  }

  close(): void {
    this.closed = true;
    this.ws?.terminate();
  }
}

export class DrillPeer {
  readonly pc: PeerConnection;
  remote = '';
  polite = false;
  private source = new w.nonstandard.RTCVideoSource();
  private frameTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private sink: VideoSink | undefined;
  private pendingCandidates: IceCandidateJson[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private probeSeq = 0;
  private closed = false;
  readonly media = {
    connectionState: 'new',
    framesReceived: 0,
    lastFrameAt: 0,
    probesReceived: 0,
    lastProbeAt: 0,
    selectedRelayProtocol: '',
    negotiationErrors: 0,
  };

  private constructor(
    readonly socket: ResumableSocket,
    options: PeerOptions,
    iceServers: IceServer[],
  ) {
    const r = options.rewriteTurnUrl;
    const servers = r ? iceServers.map((s) => ({ ...s, urls: s.urls.map(r) })) : iceServers;
    this.pc = new w.RTCPeerConnection({ iceServers: servers, iceTransportPolicy: 'relay' });
    this.pc.addTrack(this.source.createTrack());
    this.pc.onicecandidate = (e) => {
      if (e.candidate && this.remote) this.signal({ type: 'candidate', candidate: e.candidate.toJSON() });
    };
    this.pc.ontrack = (e) => {
      if (e.track.kind !== 'video') return;
      this.sink?.stop();
      this.sink = new w.nonstandard.RTCVideoSink(e.track);
      this.sink.onframe = () => {
        this.media.framesReceived++;
        this.media.lastFrameAt = Date.now();
      };
    };
    this.pc.onconnectionstatechange = () => {
      this.media.connectionState = this.pc.connectionState;
      // The offering side restarts ICE when the path is gone for a while (what the web client does).
      clearTimeout(this.restartTimer);
      if (!this.polite && (this.pc.connectionState === 'failed' || this.pc.connectionState === 'disconnected')) {
        this.restartTimer = setTimeout(() => void this.restartIce(), this.pc.connectionState === 'failed' ? 0 : 3_000);
      }
    };
    const frame = new Uint8Array(width * height * 1.5);
    let shade = 0;
    this.frameTimer = setInterval(() => {
      shade = (shade + 7) % 255;
      frame.fill(shade, 0, width * height);
      this.source.onFrame({ width, height, data: frame });
    }, options.frameIntervalMs ?? 66);
    // A signaling probe every 250 ms: an end-of-candidates candidate with a marker the receiving
    // drill peer recognises and never hands to its connection. It crosses the same path as an
    // offer (gateway, NATS, maybe signaling, the other gateway).
    this.probeTimer = setInterval(() => {
      if (this.remote) this.signal({ type: 'candidate', candidate: { candidate: '', sdpMid: `drill-probe-${this.probeSeq++}` } });
    }, 250);
    socket.onMessage = (m) => void this.onMessage(m);
  }

  /** Joins (hello → welcome) and returns the peer, its connection not yet negotiated. */
  static async join(options: PeerOptions, firstGateway = 0): Promise<DrillPeer> {
    const socket = new ResumableSocket(options, firstGateway);
    const welcome = await socket.open();
    return new DrillPeer(socket, options, welcome.iceServers as IceServer[]);
  }

  get sessionId(): string {
    return this.socket.sessionId;
  }

  private async onMessage(m: Record<string, Record<string, unknown>>) {
    const s = m.signal as { fromSessionId: string; signal: { type: string; sdp?: string; candidate?: IceCandidateJson } } | undefined;
    if (!s?.signal) return;
    const sig = s.signal;
    if (sig.type === 'candidate' && sig.candidate?.sdpMid?.startsWith('drill-probe-')) {
      this.media.probesReceived++;
      this.media.lastProbeAt = Date.now();
      return;
    }
    try {
      if (sig.type === 'offer' && sig.sdp) {
        this.remote = s.fromSessionId;
        await this.pc.setRemoteDescription({ type: 'offer', sdp: sig.sdp });
        await this.flushCandidates();
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        this.signal({ type: 'answer', sdp: answer.sdp });
      } else if (sig.type === 'answer' && sig.sdp) {
        if (this.pc.signalingState !== 'have-local-offer') return;
        await this.pc.setRemoteDescription({ type: 'answer', sdp: sig.sdp });
        await this.flushCandidates();
      } else if (sig.type === 'candidate' && sig.candidate?.candidate) {
        const c = sig.candidate;
        if (this.pc.signalingState === 'stable') await this.pc.addIceCandidate(c).catch(() => this.pendingCandidates.push(c));
        else this.pendingCandidates.push(c);
      } else if (sig.type === 'ice-restart' && !this.polite) {
        await this.restartIce();
      }
    } catch {
      this.media.negotiationErrors++;
    }
  }

  private async flushCandidates() {
    for (const c of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
  }

  private signal(signal: Record<string, unknown>) {
    this.socket.send({ signal: { toSessionId: this.remote, signal } });
  }

  async offer(to: string): Promise<void> {
    this.remote = to;
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.signal({ type: 'offer', sdp: offer.sdp });
  }

  private async restartIce() {
    if (this.closed || !this.remote || this.pc.signalingState !== 'stable') return;
    const offer = await this.pc.createOffer({ iceRestart: true });
    await this.pc.setLocalDescription(offer);
    this.signal({ type: 'offer', sdp: offer.sdp });
  }

  /** Which transport the relay candidate in use reaches coturn over (udp or tcp). */
  async relayProtocol(): Promise<string> {
    const stats = [...(await this.pc.getStats()).values()];
    const transport = stats.find((s) => s.type === 'transport');
    const pair =
      stats.find((s) => s.type === 'candidate-pair' && s.id === transport?.selectedCandidatePairId) ??
      stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
    const local = stats.find((s) => s.id === pair?.localCandidateId);
    this.media.selectedRelayProtocol = String(local?.relayProtocol ?? local?.protocol ?? '');
    return this.media.selectedRelayProtocol;
  }

  snapshot(): PeerSnapshot {
    return { sessionId: this.sessionId, ...this.media, ...this.socket.stats, errors: { ...this.socket.stats.errors } };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.frameTimer);
    clearInterval(this.probeTimer);
    clearTimeout(this.restartTimer);
    this.sink?.stop();
    this.socket.close();
    this.pc.close();
  }
}

export class HelloFailed extends Error {
  override readonly name = 'HelloFailed';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`hello failed: ${code} ${message}`);
  }
}

export interface Welcome {
  sessionId: string;
  resumeToken: string;
  iceServers: unknown[];
  participants: Array<{ sessionId: string }>;
}

/** Opens a socket to gateway `index` and says hello (resuming when given); rejects with the gateway's error code. */
export function openAndHello(
  options: PeerOptions,
  index: number,
  join: { sessionId: string; resumeToken: string } | { joinKey: string },
): Promise<{ ws: WebSocket; welcome: Welcome }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(options.gateways[index % options.gateways.length] as string, { perMessageDeflate: false, handshakeTimeout: 5_000 });
    const timer = setTimeout(() => fail(new HelloFailed('timeout', 'no welcome within 10 s')), 10_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      ws.removeAllListeners('message');
      ws.terminate();
      reject(err);
    };
    ws.on('error', (err) => fail(err));
    ws.once('close', () => fail(new HelloFailed('closed', 'socket closed before welcome')));
    ws.once('open', () =>
      ws.send(
        JSON.stringify({
          requestId: 'hello',
          hello: {
            accessToken: options.accessToken,
            meetingId: options.meetingId,
            passcode: options.passcode,
            displayName: options.displayName,
            ...('joinKey' in join ? { joinKey: join.joinKey } : { resumeSessionId: join.sessionId, resumeToken: join.resumeToken }),
          },
        }),
      ),
    );
    ws.on('message', function first(data: Buffer) {
      const m = JSON.parse(data.toString()) as { welcome?: Welcome; error?: { code: string; message: string }; requestId?: string };
      if (m.welcome) {
        clearTimeout(timer);
        ws.off('message', first);
        ws.removeAllListeners('close');
        ws.removeAllListeners('error');
        ws.on('error', () => {});
        resolve({ ws, welcome: m.welcome });
      } else if (m.error && m.requestId === 'hello') fail(new HelloFailed(m.error.code, m.error.message));
    });
  });
}
