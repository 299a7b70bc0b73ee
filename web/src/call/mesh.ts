/**
 * The peer-to-peer side of a call: one PeerLink (peer.ts, perfect negotiation) per other
 * session, what each one shows on its tile, and each link's sender adaptation. Signals come in
 * through handleSignal and go out through the `signal` event; who is in the meeting is the
 * controller's business — it tells the mesh whom to connect to and whom to drop.
 */
import type { Signal } from '@lessoncall/proto';
import type { Adaptation } from './adaptation';
import { mark } from './marks';
import { type LocalTracks, PeerLink, type PeerMeta } from './peer';
import type { SignalInit } from './protocol';
import { SenderAdapter } from './sender-adapter';
import type { PeerQuality } from './stats';

/** What one remote session's tile shows. */
export interface RemoteMedia {
  stream?: MediaStream;
  connection: RTCPeerConnectionState;
  quality?: PeerQuality;
  screenSharing: boolean;
}

export interface MeshEvents {
  signal(to: string, signal: SignalInit): void;
  /** A tile changed. */
  changed(): void;
  /** A connection was made (the join report watches it for the first media). */
  created(sessionId: string, pc: RTCPeerConnection): void;
  /** A link was closed (the session left, or its failed connection is replaced). */
  dropped(sessionId: string): void;
  /** The other side started sharing its screen. */
  screenShareStarted(sessionId: string): void;
  log(message: string, error?: unknown): void;
}

/** What the mesh and the sfu room (sfu-room.ts) both need of the call. */
export interface MediaPathOptions {
  forceRelay: boolean;
  /** The tracks we send (local-participant.ts). */
  local: () => LocalTracks;
  /** Offers (mesh) and the room's access (sfu) are asked for only while the call is live. */
  live: () => boolean;
  now: () => number;
}

export interface MeshOptions extends MediaPathOptions {
  /** Our session: of two sessions, the greater id is the polite one. */
  selfSessionId: () => string;
  /** If a peer announced as joined has not sent an offer after this long, we offer. */
  offerFallbackMs: number;
  /** What a new link tells the other side about us first. */
  screenSharing: () => boolean;
  events: MeshEvents;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
}

export class PeerMesh {
  private readonly links = new Map<string, PeerLink>();
  private readonly tiles = new Map<string, RemoteMedia>();
  private readonly offerTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly adapters = new Map<string, SenderAdapter>();
  private iceServers: RTCIceServer[] = [];

  constructor(private readonly opts: MeshOptions) {}

  /** Used by connections made from now on, and by the next ICE gathering of the current ones (fresh TURN credentials). */
  setIceServers(iceServers: RTCIceServer[]): void {
    this.iceServers = iceServers;
    for (const l of this.links.values()) l.setIceServers(iceServers);
  }

  /** Someone who was here before us (a welcome): we offer, unless a working connection exists; a failed one is replaced. */
  connect(sessionId: string): void {
    const link = this.links.get(sessionId);
    if (link && link.pc.connectionState !== 'failed' && link.pc.connectionState !== 'closed') return;
    if (link) this.drop(sessionId);
    this.create(sessionId).initiate();
  }

  /**
   * A newcomer (peerJoined): it offers. The connection is made now, while its offer travels: if
   * we end up offering (the fallback) its candidates are already gathered (Chrome uses the
   * candidate pool for offers only), and either way the offer finds it ready.
   */
  expect(sessionId: string): void {
    if (!this.links.has(sessionId) && this.opts.live()) this.create(sessionId);
    // If the offer does not come, we offer (perfect negotiation makes either safe).
    if (this.offerTimers.has(sessionId)) return;
    this.offerTimers.set(
      sessionId,
      setTimeout(() => {
        this.offerTimers.delete(sessionId);
        const link = this.links.get(sessionId);
        if (link && !link.started && this.opts.live()) link.initiate();
      }, this.opts.offerFallbackMs),
    );
  }

  handleSignal(from: string, signal: Signal): void {
    const link = this.links.get(from) ?? this.create(from);
    void link.handleSignal(signal);
  }

  drop(sessionId: string): void {
    const link = this.links.get(sessionId);
    link?.close();
    this.links.delete(sessionId);
    this.tiles.delete(sessionId);
    const timer = this.offerTimers.get(sessionId);
    if (timer) clearTimeout(timer);
    this.offerTimers.delete(sessionId);
    if (link) this.opts.events.dropped(sessionId);
    this.opts.events.changed();
  }

  dropAll(): void {
    for (const id of [...this.links.keys()]) this.drop(id);
  }

  /** A signal went missing on the way (signaling's sequence gap): new ICE with that session. */
  restartIce(sessionId?: string): void {
    if (sessionId !== undefined) this.links.get(sessionId)?.restartIce();
    else for (const l of this.links.values()) l.restartIce();
  }

  /** Back online or visible again: restart ICE where the connection is no longer up, without waiting for its timers. */
  restartIceUnlessConnected(): void {
    for (const l of this.links.values()) if (l.pc.connectionState !== 'connected') l.restartIce();
  }

  /** Swaps what every link sends (replaceTrack, no renegotiation). */
  async setTrack(kind: 'audio' | 'video', track: MediaStreamTrack | undefined): Promise<void> {
    for (const l of this.links.values()) await l.setTrack(kind, track);
  }

  setMeta(meta: PeerMeta): void {
    for (const l of this.links.values()) l.setMeta(meta);
  }

  tile(sessionId: string): RemoteMedia | undefined {
    return this.tiles.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.links.has(sessionId);
  }

  /** The connection to that session, while it is the current one. */
  connection(sessionId: string): RTCPeerConnection | undefined {
    return this.links.get(sessionId)?.pc;
  }

  connections(): [string, RTCPeerConnection][] {
    return [...this.links].map(([id, l]) => [id, l.pc]);
  }

  audioLevels(): [string, () => number][] {
    return [...this.links].map(([id, link]) => [id, () => link.audioLevel()]);
  }

  /**
   * Each link's quality on its tile (and to `report`), and its sender's next adaptation step:
   * the adaptations of all links, for the worst to decide what the user is told.
   */
  async pollQuality(report: (sessionId: string, quality: PeerQuality) => void): Promise<Adaptation[]> {
    const adaptations: Adaptation[] = [];
    for (const [id, link] of this.links) {
      try {
        const quality = await link.quality();
        if (this.links.get(id) !== link) continue;
        this.update(id, { quality });
        report(id, quality);
        const known = this.adapters.get(id);
        // A replaced connection (after a failure) starts again from full quality.
        const adapter = known?.pc === link.pc ? known : new SenderAdapter(link.pc, this.opts.now);
        this.adapters.set(id, adapter);
        adaptations.push(await adapter.step({ lossPercent: quality.lossPercent, rttMs: quality.rttMs }));
      } catch {
        // a closing connection has no stats
      }
    }
    for (const id of this.adapters.keys()) if (!this.links.has(id)) this.adapters.delete(id);
    return adaptations;
  }

  private create(sessionId: string): PeerLink {
    mark('peer-created');
    const { events } = this.opts;
    const link = new PeerLink({
      remoteSessionId: sessionId,
      polite: this.opts.selfSessionId() > sessionId,
      config: {
        iceServers: this.iceServers,
        iceTransportPolicy: this.opts.forceRelay ? 'relay' : 'all',
        bundlePolicy: 'max-bundle',
        rtcpMuxPolicy: 'require',
        // Gather (and allocate on the TURN server) as soon as the connection exists, before its
        // first offer: off the critical path. (Chrome ignores the pool when it answers.)
        iceCandidatePoolSize: 1,
      },
      local: this.opts.local,
      events: {
        signal: (signal) => events.signal(sessionId, signal),
        remoteStream: (stream) => this.update(sessionId, { stream }),
        connectionState: (connection) => this.update(sessionId, { connection }),
        remoteMeta: (meta) => {
          const before = this.tiles.get(sessionId)?.screenSharing ?? false;
          this.update(sessionId, { screenSharing: meta.screenSharing });
          if (meta.screenSharing && !before) events.screenShareStarted(sessionId);
        },
        log: (message, error) => events.log(`peer ${sessionId}: ${message}`, error),
      },
      ...(this.opts.createPeerConnection ? { createPeerConnection: this.opts.createPeerConnection } : {}),
    });
    link.setMeta({ screenSharing: this.opts.screenSharing() });
    this.links.set(sessionId, link);
    this.tiles.set(sessionId, { connection: 'new', screenSharing: false });
    events.created(sessionId, link.pc);
    return link;
  }

  private update(sessionId: string, patch: Partial<RemoteMedia>) {
    const cur = this.tiles.get(sessionId) ?? { connection: 'new', screenSharing: false };
    this.tiles.set(sessionId, { ...cur, ...patch });
    this.opts.events.changed();
  }
}
