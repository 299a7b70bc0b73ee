/**
 * A call in an sfu meeting: one Janus VideoRoom publisher with our tracks, and one subscription
 * per other publisher (whose id is its session id, so the roster and the tiles line up). Plain
 * TypeScript over the browser's WebRTC and `@lessoncall/proto`'s Janus client; CallController
 * drives it instead of the mesh's PeerLinks when the welcome says `mediaMode: sfu`.
 */
import { JanusClient, type JanusHandle, type JanusWebSocketFactory, type Jsep, type SfuAccess } from '@lessoncall/proto';
import type { LocalTracks } from './peer';

export interface SfuEvents {
  /** A publisher's media arrived (or changed). */
  remoteStream(sessionId: string, stream: MediaStream): void;
  /** A publisher stopped (left, unpublished, kicked). */
  remoteGone(sessionId: string): void;
  /** Our publisher's connection state (the room as a whole, for the UI). */
  connectionState(state: RTCPeerConnectionState): void;
  /** The node went away (socket closed without us closing it): ask for access again. */
  lost(): void;
  log(message: string, error?: unknown): void;
}

export interface SfuOptions {
  access: SfuAccess;
  iceServers: RTCIceServer[];
  forceRelay: boolean;
  local: () => LocalTracks;
  events: SfuEvents;
  /** Tests pass a WebSocket of their own. */
  createSocket?: JanusWebSocketFactory;
  /** Publish the camera in three layers (see simulcastEncodings); where the browser does it well (Chromium). */
  simulcast?: boolean;
}

/**
 * The layers of a simulcast publisher, highest first as Janus's own janus.js sends them (the
 * VideoRoom numbers them 2, 1, 0): full size, half and a quarter, each with a bitrate ceiling.
 */
export const simulcastEncodings: RTCRtpEncodingParameters[] = [
  { rid: 'h', maxBitrate: 1_200_000 },
  { rid: 'm', maxBitrate: 400_000, scaleResolutionDownBy: 2 },
  { rid: 'l', maxBitrate: 120_000, scaleResolutionDownBy: 4 },
];

/**
 * Chromium (Chrome, Edge, headless too: `HeadlessChrome/…`) publishes simulcast to Janus
 * reliably; Firefox (its rid order, no scaling of a screen share) and Safari send one layer.
 */
export function browserSimulcasts(userAgent: string): boolean {
  return /(Chrome|Chromium)\/\d+/.test(userAgent) && !/Firefox\//.test(userAgent);
}

const plugin = 'janus.plugin.videoroom';

interface Subscription {
  handle: JanusHandle;
  pc: RTCPeerConnection;
  /** The subscription's video m-line (what `configure` names), once negotiated. */
  videoMid?: string | null;
  /** What Janus was last asked to send of this feed's video. */
  applied?: VideoWanted;
}

/** Whether a feed's video is sent to us, and at which simulcast layer (0 low … 2 high). */
export type VideoWanted = { send: false } | { send: true; substream: 0 | 1 | 2 };

const sameWanted = (a: VideoWanted | undefined, b: VideoWanted) => a?.send === b.send && (!b.send || (a as { substream: number }).substream === b.substream);

export class SfuSession {
  readonly access: SfuAccess;
  readonly #o: SfuOptions;
  readonly #client: JanusClient;
  #publisher: { handle: JanusHandle; pc: RTCPeerConnection; senders: Partial<Record<'audio' | 'video', RTCRtpSender>> } | undefined;
  #privateId = 0;
  readonly #subs = new Map<string, Subscription>();
  /** Per feed, the video the stage shows of it; a feed not named: not shown, not sent. Undefined: every feed, best layer. */
  #wanted: ReadonlyMap<string, VideoWanted> | undefined;
  #closed = false;

  constructor(options: SfuOptions) {
    this.#o = options;
    this.access = options.access;
    this.#client = new JanusClient(options.access.url, options.access.janusToken, options.createSocket ? { factory: options.createSocket } : {});
    this.#client.onClose = () => {
      if (!this.#closed) this.#o.events.lost();
    };
  }

  #rtc(): RTCConfiguration {
    return { iceServers: this.#o.iceServers, iceTransportPolicy: this.#o.forceRelay ? 'relay' : 'all', bundlePolicy: 'max-bundle' };
  }

  /** Trickles our candidates to Janus (it answers with all of its own in the SDP). */
  #trickle(pc: RTCPeerConnection, handle: JanusHandle) {
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      void handle
        .trickle(c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null)
        .catch((err) => this.#o.events.log('trickle failed', err));
    };
  }

  /** Joins the room and publishes once: everyone else subscribes to this one stream. */
  async start(): Promise<void> {
    await this.#client.connect();
    const handle = await this.#client.attach(plugin, (e) => this.#onPublisherEvent(e.data));
    const joined = await handle.message({
      request: 'join',
      ptype: 'publisher',
      room: this.access.roomId,
      id: this.access.publisherId,
      token: this.access.joinToken,
    });
    this.#privateId = Number(joined.data.private_id ?? 0);
    const pc = new RTCPeerConnection(this.#rtc());
    this.#trickle(pc, handle);
    pc.onconnectionstatechange = () => {
      this.#o.events.log(`publisher: ${pc.connectionState}`);
      this.#o.events.connectionState(pc.connectionState);
    };
    const local = this.#o.local();
    const senders: Partial<Record<'audio' | 'video', RTCRtpSender>> = {};
    for (const kind of ['audio', 'video'] as const) {
      // A transceiver per kind even without a track, so a camera turned on later needs no renegotiation.
      const t = pc.addTransceiver(local[kind] ?? kind, {
        direction: 'sendonly',
        streams: [local.stream],
        ...(kind === 'video' && this.#o.simulcast ? { sendEncodings: simulcastEncodings.map((e) => ({ ...e })) } : {}),
      });
      senders[kind] = t.sender;
    }
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await handle.message({ request: 'publish', audio: true, video: true }, pc.localDescription as unknown as Jsep);
    if (!answer.jsep) throw new Error('Janus answered publish without an SDP answer');
    await pc.setRemoteDescription(answer.jsep);
    this.#publisher = { handle, pc, senders };
    for (const p of (joined.data.publishers ?? []) as { id: string }[]) void this.#subscribe(String(p.id));
  }

  #onPublisherEvent(data: Record<string, unknown>) {
    for (const p of (data.publishers ?? []) as { id: string }[]) void this.#subscribe(String(p.id));
    const gone = data.unpublished ?? data.leaving ?? data.kicked;
    if (gone !== undefined && gone !== 'ok') this.#unsubscribe(String(gone));
  }

  async #subscribe(feed: string): Promise<void> {
    if (this.#closed || this.#subs.has(feed) || feed === this.access.publisherId) return;
    this.#o.events.log(`subscribing to ${feed}`);
    const handle = await this.#client.attach(plugin, (e) => {
      if (e.data.videoroom === 'event' && e.data.left === 'ok') this.#unsubscribe(feed);
    });
    const pc = new RTCPeerConnection(this.#rtc());
    this.#subs.set(feed, { handle, pc });
    try {
      this.#trickle(pc, handle);
      const stream = new MediaStream();
      pc.ontrack = (e) => {
        stream.addTrack(e.track);
        this.#o.events.remoteStream(feed, stream);
      };
      const offer = await handle.message({
        request: 'join',
        ptype: 'subscriber',
        room: this.access.roomId,
        streams: [{ feed }],
        private_id: this.#privateId,
        token: this.access.joinToken,
      });
      if (!offer.jsep) throw new Error('Janus answered a subscription without an SDP offer');
      await pc.setRemoteDescription(offer.jsep);
      await pc.setLocalDescription(await pc.createAnswer());
      await handle.message({ request: 'start' }, pc.localDescription as unknown as Jsep);
      pc.onconnectionstatechange = () => this.#o.events.log(`subscription to ${feed}: ${pc.connectionState}`);
      const sub = this.#subs.get(feed);
      if (sub) {
        sub.videoMid = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video')?.mid;
        // Janus starts sending everything: a tile not on the page is paused at once.
        await this.#applyVideo(feed, sub);
      }
    } catch (err) {
      this.#o.events.log(`subscription to ${feed} failed`, err);
      this.#unsubscribe(feed);
    }
  }

  #unsubscribe(feed: string) {
    const s = this.#subs.get(feed);
    if (!s) return;
    this.#subs.delete(feed);
    s.pc.close();
    void s.handle.detach();
    this.#o.events.remoteGone(feed);
  }

  /** Swaps what we send (camera ↔ screen, camera off = null) without renegotiation, as the mesh does. */
  async setTrack(kind: 'audio' | 'video', track: MediaStreamTrack | undefined): Promise<void> {
    const sender = this.#publisher?.senders[kind];
    if (sender && sender.track !== (track ?? null)) await sender.replaceTrack(track ?? null);
  }

  /**
   * Which feeds' video the stage shows, and at which layer: Janus stops sending the video of the
   * others (VideoRoom subscriber `configure`, `send: false` on the video m-line) — their audio
   * keeps coming — so a room of 25 does not decode 24 videos, and a small tile gets a small layer.
   */
  setVideoWanted(wanted: ReadonlyMap<string, VideoWanted> | undefined): void {
    this.#wanted = wanted;
    for (const [feed, sub] of this.#subs) void this.#applyVideo(feed, sub);
  }

  async #applyVideo(feed: string, sub: Subscription): Promise<void> {
    // Without a stage (undefined) every video at its best layer: Janus's default, so nothing to ask until something was changed.
    if (!sub.videoMid || (!this.#wanted && !sub.applied)) return;
    const want: VideoWanted = this.#wanted ? (this.#wanted.get(feed) ?? { send: false }) : { send: true, substream: 2 };
    if (sameWanted(sub.applied, want)) return;
    const previous = sub.applied;
    sub.applied = want;
    try {
      await sub.handle.message({ request: 'configure', streams: [{ mid: sub.videoMid, ...want }] });
      this.#o.events.log(`video of ${feed}: ${want.send ? `layer ${want.substream}` : 'paused'}`);
    } catch (err) {
      if (sub.applied === want) sub.applied = previous;
      this.#o.events.log(`configure of ${feed} failed`, err);
    }
  }

  /** The loudest current audio level (0–1, RTP audio level extension) of a feed, for the active speaker. */
  audioLevel(feed: string): number {
    const pc = this.#subs.get(feed)?.pc;
    let max = 0;
    for (const r of pc?.getReceivers() ?? []) {
      if (r.track.kind !== 'audio') continue;
      for (const src of r.getSynchronizationSources?.() ?? []) max = Math.max(max, src.audioLevel ?? 0);
    }
    return max;
  }

  /** Our publisher's connection (own uplink quality). */
  publisherConnection(): RTCPeerConnection | undefined {
    return this.#publisher?.pc;
  }

  /** Inbound and outbound stats of every connection (quality indicators). */
  connections(): { sessionId: string; pc: RTCPeerConnection }[] {
    return [...this.#subs].map(([sessionId, s]) => ({ sessionId, pc: s.pc }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const feed of [...this.#subs.keys()]) this.#unsubscribe(feed);
    this.#publisher?.pc.close();
    this.#publisher = undefined;
    await this.#client.close();
  }
}
