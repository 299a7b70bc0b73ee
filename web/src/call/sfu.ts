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
}

const plugin = 'janus.plugin.videoroom';

interface Subscription {
  handle: JanusHandle;
  pc: RTCPeerConnection;
}

export class SfuSession {
  readonly access: SfuAccess;
  readonly #o: SfuOptions;
  readonly #client: JanusClient;
  #publisher: { handle: JanusHandle; pc: RTCPeerConnection; senders: Partial<Record<'audio' | 'video', RTCRtpSender>> } | undefined;
  #privateId = 0;
  readonly #subs = new Map<string, Subscription>();
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
      const t = pc.addTransceiver(local[kind] ?? kind, { direction: 'sendonly', streams: [local.stream] });
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
