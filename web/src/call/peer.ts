/**
 * One RTCPeerConnection to one other session, with the perfect-negotiation pattern
 * (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): either side may offer at any
 * time; when offers collide the polite side yields. Each connection carries exactly one audio
 * and one video transceiver and a small data channel; camera ↔ screen and camera on/off swap the
 * track on the video sender (`replaceTrack`), so they never renegotiate.
 */
import type { Signal } from '@lessoncall/proto';
import { mark } from './marks';
import type { SignalInit } from './protocol';
import { type PeerQuality, type StatLike, type StatsSample, summarizeStats } from './stats';

export interface LocalTracks {
  audio: MediaStreamTrack | undefined;
  /** The camera, or the screen while sharing. */
  video: MediaStreamTrack | undefined;
  stream: MediaStream;
}

export interface PeerEvents {
  signal(signal: SignalInit): void;
  /** Remote tracks arrived (the stream object stays the same for the connection's life). */
  remoteStream(stream: MediaStream): void;
  connectionState(state: RTCPeerConnectionState): void;
  /** What the other side says about itself over the data channel. */
  remoteMeta(meta: PeerMeta): void;
  log?(message: string, error?: unknown): void;
}

/** Sent over the data channel: things the server does not track. */
export interface PeerMeta {
  screenSharing: boolean;
}

export interface PeerOptions {
  remoteSessionId: string;
  polite: boolean;
  config: RTCConfiguration;
  local: () => LocalTracks;
  events: PeerEvents;
  /** How long `disconnected` may last before an ICE restart. */
  disconnectedRestartMs?: number;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
}

type Kind = 'audio' | 'video';

export class PeerLink {
  readonly remoteSessionId: string;
  readonly polite: boolean;
  readonly pc: RTCPeerConnection;
  readonly remoteStream: MediaStream;
  private readonly events: PeerEvents;
  private readonly local: () => LocalTracks;
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswerPending = false;
  private queue: Promise<void> = Promise.resolve();
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private readonly tx: Partial<Record<Kind, RTCRtpTransceiver>> = {};
  private meta: RTCDataChannel | undefined;
  private metaState: PeerMeta = { screenSharing: false };
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private lastSample: StatsSample | undefined;
  private closed = false;
  private initiated = false;
  private readonly disconnectedRestartMs: number;

  constructor(options: PeerOptions) {
    this.remoteSessionId = options.remoteSessionId;
    this.polite = options.polite;
    this.events = options.events;
    this.local = options.local;
    this.disconnectedRestartMs = options.disconnectedRestartMs ?? 3_000;
    this.pc = options.createPeerConnection ? options.createPeerConnection(options.config) : new RTCPeerConnection(options.config);
    this.remoteStream = new MediaStream();
    this.pc.onnegotiationneeded = () => void this.negotiate();
    this.pc.onicecandidate = ({ candidate }) => {
      if (!candidate?.candidate) return; // end of candidates needs no message
      mark(`candidate-${candidate.type ?? 'unknown'}`);
      this.events.signal({
        type: 'candidate',
        candidate: {
          candidate: candidate.candidate,
          ...(candidate.sdpMid != null ? { sdpMid: candidate.sdpMid } : {}),
          ...(candidate.sdpMLineIndex != null ? { sdpMLineIndex: candidate.sdpMLineIndex } : {}),
          ...(candidate.usernameFragment ? { usernameFragment: candidate.usernameFragment } : {}),
        },
      });
    };
    this.pc.ontrack = ({ track }) => {
      mark(`track-${track.kind}`);
      for (const old of this.remoteStream.getTracks()) if (old.kind === track.kind && old !== track) this.remoteStream.removeTrack(old);
      if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
      this.events.remoteStream(this.remoteStream);
    };
    this.pc.onconnectionstatechange = () => this.onConnectionState();
  }

  /** Whether negotiation began: we offered, or applied their offer. */
  get started(): boolean {
    return this.initiated || this.pc.remoteDescription !== null;
  }

  /** We make the first offer: add our two transceivers and the data channel; negotiationneeded does the rest. */
  initiate(): void {
    if (this.started) return;
    this.initiated = true;
    const local = this.local();
    for (const kind of ['audio', 'video'] as const) {
      const track = local[kind];
      // addTrack, not addTransceiver, when there is a track: if our offer collides with theirs and
      // we roll it back, applying their offer adopts addTrack's transceivers for its m-lines
      // (JSEP 5.10), so nothing is left over to stop.
      // Without one (camera off), a silent placeholder stands in for addTrack and is swapped
      // for nothing right away.
      const placeholder = track ? undefined : placeholderTrack(kind);
      const first = track ?? placeholder;
      if (first) {
        const sender = this.pc.addTrack(first, local.stream);
        this.tx[kind] = this.pc.getTransceivers().find((t) => t.sender === sender);
        if (placeholder) {
          void sender.replaceTrack(null).finally(() => placeholder.stop());
        }
      } else {
        this.tx[kind] = this.pc.addTransceiver(kind, { direction: 'sendrecv', streams: [local.stream] });
      }
    }
    this.openMeta(this.pc.createDataChannel('meta', { negotiated: true, id: 0 }));
    // Offer now rather than when negotiationneeded fires: that event waits for a task of its
    // own, behind whatever the page renders on joining. (The event then finds an offer under way.)
    void this.negotiate();
  }

  /** Handles one signal from the other side. Signals are applied strictly in order. */
  handleSignal(signal: Signal): Promise<void> {
    this.queue = this.queue.then(() => this.apply(signal)).catch((err) => this.events.log?.('signal failed', err));
    return this.queue;
  }

  private async negotiate() {
    if (this.closed || this.makingOffer) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const d = this.pc.localDescription;
      if (d) this.events.signal({ type: d.type, sdp: d.sdp });
      mark(`${d?.type ?? 'description'}-sent`);
    } catch (err) {
      this.events.log?.('offer failed', err);
    } finally {
      this.makingOffer = false;
    }
  }

  private async apply(signal: Signal) {
    if (this.closed) return;
    switch (signal.type) {
      case 'offer':
      case 'answer': {
        const description: RTCSessionDescriptionInit = { type: signal.type, sdp: signal.sdp };
        mark(`${signal.type}-received`);
        const readyForOffer = !this.makingOffer && (this.pc.signalingState === 'stable' || this.settingRemoteAnswerPending);
        const offerCollision = description.type === 'offer' && !readyForOffer;
        this.ignoreOffer = !this.polite && offerCollision;
        if (this.ignoreOffer) return;
        this.settingRemoteAnswerPending = description.type === 'answer';
        await this.pc.setRemoteDescription(description); // the polite side rolls back its own offer here
        this.settingRemoteAnswerPending = false;
        if (description.type === 'offer') {
          await this.attachLocalTracks();
          await this.pc.setLocalDescription();
          const d = this.pc.localDescription;
          if (d) this.events.signal({ type: d.type, sdp: d.sdp });
          mark('answer-sent');
        }
        for (const c of this.pendingCandidates.splice(0)) await this.addCandidate(c);
        return;
      }
      case 'candidate': {
        const c = signal.candidate;
        if (!c) return;
        const init: RTCIceCandidateInit = {
          candidate: c.candidate,
          ...(c.sdpMid !== undefined ? { sdpMid: c.sdpMid } : {}),
          ...(c.sdpMLineIndex !== undefined ? { sdpMLineIndex: c.sdpMLineIndex } : {}),
          ...(c.usernameFragment !== undefined ? { usernameFragment: c.usernameFragment } : {}),
        };
        if (!this.pc.remoteDescription) this.pendingCandidates.push(init);
        else await this.addCandidate(init);
        return;
      }
      case 'ice-restart':
        this.pc.restartIce();
        return;
      default:
        this.events.log?.(`unknown signal type ${signal.type}`);
    }
  }

  private async addCandidate(c: RTCIceCandidateInit) {
    try {
      await this.pc.addIceCandidate(c);
    } catch (err) {
      // Candidates of an offer we ignored in a collision are expected to fail.
      if (!this.ignoreOffer) this.events.log?.('addIceCandidate failed', err);
    }
  }

  /**
   * After applying an offer: send our tracks on the transceivers the offer created (one per
   * kind), and drop transceivers of our own that a rolled-back offer left unassociated, so the
   * answer carries our media and nothing needs another round.
   */
  private async attachLocalTracks() {
    const local = this.local();
    for (const kind of ['audio', 'video'] as const) {
      // The transceiver the offer's m-line of this kind is on. Should a collision have left one of
      // ours unassociated (only when no placeholder could be made), it is left alone: stopping an
      // unassociated transceiver makes Chrome ask for negotiation forever; it joins the next
      // offer instead, once.
      const chosen = this.pc.getTransceivers().find((t) => t.receiver.track.kind === kind && t.mid !== null && t.currentDirection !== 'stopped');
      if (!chosen) continue;
      const first = this.tx[kind] !== chosen;
      this.tx[kind] = chosen;
      if (chosen.direction !== 'sendrecv') chosen.direction = 'sendrecv';
      const track = local[kind] ?? null;
      if (chosen.sender.track !== track) await chosen.sender.replaceTrack(track);
      // Only once: setStreams marks negotiation as needed, and doing it on every offer would
      // answer each offer with a new one, forever.
      if (first) chosen.sender.setStreams?.(local.stream);
    }
    if (!this.meta) this.openMeta(this.pc.createDataChannel('meta', { negotiated: true, id: 0 }));
  }

  /** Swaps what we send (camera ↔ screen, camera off = null) without renegotiation. */
  async setTrack(kind: Kind, track: MediaStreamTrack | undefined): Promise<void> {
    const t = this.tx[kind];
    if (!t || this.closed) return;
    if (t.sender.track !== (track ?? null)) await t.sender.replaceTrack(track ?? null);
  }

  setMeta(meta: PeerMeta): void {
    this.metaState = meta;
    if (this.meta?.readyState === 'open') this.meta.send(JSON.stringify(meta));
  }

  private openMeta(dc: RTCDataChannel) {
    this.meta = dc;
    dc.onopen = () => dc.send(JSON.stringify(this.metaState));
    dc.onmessage = (ev) => {
      try {
        const m = JSON.parse(String(ev.data)) as Partial<PeerMeta>;
        this.events.remoteMeta({ screenSharing: m.screenSharing === true });
      } catch {
        // ignore what we cannot read
      }
    };
  }

  restartIce(): void {
    if (this.closed) return;
    this.events.log?.('ICE restart');
    this.pc.restartIce();
  }

  /** New TURN credentials (after a resume): used by the next ICE gathering. */
  setIceServers(iceServers: RTCIceServer[]): void {
    if (this.closed) return;
    this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
  }

  private onConnectionState() {
    const state = this.pc.connectionState;
    mark(`pc-${state}`);
    this.events.connectionState(state);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (state === 'failed') this.restartIce();
    else if (state === 'disconnected') {
      // Often recovers by itself (a Wi-Fi hiccup); restart only when it does not.
      this.restartTimer = setTimeout(() => {
        if (this.pc.connectionState === 'disconnected') this.restartIce();
      }, this.disconnectedRestartMs);
    }
  }

  async quality(): Promise<PeerQuality> {
    const report = await this.pc.getStats();
    const { quality, sample } = summarizeStats(report.values() as IterableIterator<StatLike>, this.lastSample, performance.now());
    this.lastSample = sample;
    return quality;
  }

  /** Current remote audio level 0–1 (RTP audio level extension), for the active speaker. */
  audioLevel(): number {
    const sources = this.tx.audio?.receiver.getSynchronizationSources?.() ?? [];
    return sources.reduce((max, s) => Math.max(max, s.audioLevel ?? 0), 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.meta?.close();
    this.pc.close();
  }
}

/** A track that sends nothing, so that addTrack can be used without a device. */
function placeholderTrack(kind: Kind): MediaStreamTrack | undefined {
  try {
    if (kind === 'video') {
      const canvas = document.createElement('canvas');
      canvas.width = 2;
      canvas.height = 2;
      return canvas.captureStream(0).getVideoTracks()[0];
    }
    const ctx = new AudioContext();
    const track = ctx.createMediaStreamDestination().stream.getAudioTracks()[0];
    void ctx.close();
    return track;
  } catch {
    return undefined;
  }
}
