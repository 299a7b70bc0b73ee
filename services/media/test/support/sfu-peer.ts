import wrtc from '@roamhq/wrtc';
import type { SfuAccess } from '@lessoncall/proto';
import { type JanusClient, type JanusHandle, type Jsep, nodeJanusClient } from '../../src/janus/index';
import type { FrameLatency } from './frame-stamp';

// @roamhq/wrtc's typings lean on the DOM lib, which this project does not load: what is used here, by hand.
interface Track {
  kind: string;
  stop(): void;
}
interface PeerConnection {
  iceGatheringState: string;
  connectionState: string;
  onicegatheringstatechange: (() => void) | null;
  ontrack: ((e: { track: Track }) => void) | null;
  addTrack(track: Track): unknown;
  addTransceiver(kind: string, init: { direction: string }): unknown;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  readonly localDescription: { type: string; sdp: string } | null;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
  close(): void;
}
interface VideoSource {
  createTrack(): Track;
  onFrame(frame: { width: number; height: number; data: Uint8Array }): void;
}
interface AudioSource {
  createTrack(): Track;
  onData(data: { samples: Int16Array; sampleRate: number; bitsPerSample: number; channelCount: number; numberOfFrames: number }): void;
}
interface VideoSink {
  onframe: ((e: { frame: { width: number; height: number; data: Uint8Array } }) => void) | null;
  stop(): void;
}
interface AudioSink {
  ondata: ((e: { samples: Int16Array }) => void) | null;
  stop(): void;
}
const w = wrtc as unknown as {
  RTCPeerConnection: new (config: unknown) => PeerConnection;
  nonstandard: {
    RTCVideoSource: new () => VideoSource;
    RTCVideoSink: new (track: Track) => VideoSink;
    RTCAudioSource: new () => AudioSource;
    RTCAudioSink: new (track: Track) => AudioSink;
  };
};

/** The whole SDP with every candidate in it: Janus runs half-trickle, so no trickling either way. */
async function gathered(pc: PeerConnection): Promise<Jsep> {
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3_000);
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      };
    });
  }
  const d = pc.localDescription;
  if (!d) throw new Error('no local description');
  return { type: d.type as Jsep['type'], sdp: d.sdp };
}

export interface PublishOptions {
  width?: number;
  height?: number;
  frameIntervalMs?: number;
  /** A tone at this frequency (Hz) on an audio track too; undefined: video only. */
  toneHz?: number;
  display?: string;
  /** Stamps a frame number into every frame (feed: the publisher id), for a subscriber's FrameLatency. */
  latency?: FrameLatency;
}

/** Synthetic video into `video` until the returned timer is cleared: a moving shade, stamped when `latency` is given. */
function syntheticVideo(video: VideoSource, options: PublishOptions, feed: string): NodeJS.Timeout {
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const frame = new Uint8Array(width * height * 1.5);
  let shade = 0;
  return setInterval(() => {
    shade = (shade + 5) % 255;
    frame.fill(shade, 0, width * height);
    options.latency?.sent(feed, frame, width, height);
    video.onFrame({ width, height, data: frame });
  }, options.frameIntervalMs ?? 66);
}

/**
 * A participant of an sfu meeting as the browser is one, in Node: a Janus session with the
 * access's signed token, a VideoRoom publisher (synthetic video, optionally a tone) joined with
 * the session's join token, and subscriptions to other publishers whose frames it counts.
 */
export class SfuPeer {
  readonly client: JanusClient;
  readonly access: SfuAccess;
  #publisher: { handle: JanusHandle; pc: PeerConnection; timers: NodeJS.Timeout[] } | undefined;
  readonly #subscriptions: { handle: JanusHandle; pc: PeerConnection; sinks: (VideoSink | AudioSink)[] }[] = [];
  /** The VideoRoom's private id of our publisher: subscriptions present it (rooms require it). */
  privateId = 0;
  /** Frames decoded per subscribed feed. */
  readonly framesFrom = new Map<string, number>();
  readonly audioFrom = new Map<string, number>();
  /** Other publishers the room told us about. */
  readonly publishers = new Set<string>();

  private constructor(client: JanusClient, access: SfuAccess) {
    this.client = client;
    this.access = access;
  }

  static async connect(access: SfuAccess): Promise<SfuPeer> {
    return new SfuPeer(await nodeJanusClient(access.url, access.janusToken).connect(), access);
  }

  /** Joins as the access's publisher and sends video (and a tone) until closed. */
  async publish(options: PublishOptions = {}): Promise<{ publishers: string[] }> {
    const handle = await this.client.attach('janus.plugin.videoroom', (e) => {
      const list = (e.data.publishers ?? []) as { id: string }[];
      for (const p of list) this.publishers.add(String(p.id));
    });
    const joined = await handle.message({
      request: 'join',
      ptype: 'publisher',
      room: this.access.roomId,
      id: this.access.publisherId,
      display: options.display ?? this.access.publisherId,
      token: this.access.joinToken,
    });
    this.privateId = Number(joined.data.private_id ?? 0);
    const existing = ((joined.data.publishers ?? []) as { id: string }[]).map((p) => String(p.id));
    for (const p of existing) this.publishers.add(p);

    const pc = new w.RTCPeerConnection({ iceServers: [] });
    const timers: NodeJS.Timeout[] = [];
    const video = new w.nonstandard.RTCVideoSource();
    pc.addTrack(video.createTrack());
    timers.push(syntheticVideo(video, options, this.access.publisherId));
    if (options.toneHz !== undefined) {
      const audio = new w.nonstandard.RTCAudioSource();
      pc.addTrack(audio.createTrack());
      const sampleRate = 48_000;
      const perChunk = sampleRate / 100;
      let t = 0;
      const hz = options.toneHz;
      timers.push(
        setInterval(() => {
          const samples = new Int16Array(perChunk);
          for (let i = 0; i < perChunk; i++, t++) samples[i] = Math.round(8_000 * Math.sin((2 * Math.PI * hz * t) / sampleRate));
          audio.onData({ samples, sampleRate, bitsPerSample: 16, channelCount: 1, numberOfFrames: perChunk });
        }, 10),
      );
    }
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await handle.message({ request: 'publish', audio: options.toneHz !== undefined, video: true }, await gathered(pc));
    if (!answer.jsep) throw new Error('publish answered without an SDP answer');
    await pc.setRemoteDescription(answer.jsep);
    this.#publisher = { handle, pc, timers };
    return { publishers: existing };
  }

  /** Subscribes to one publisher and counts its decoded frames (and audio chunks); `latency` times its stamped frames. */
  async subscribe(feed: string, latency?: FrameLatency): Promise<void> {
    const handle = await this.client.attach('janus.plugin.videoroom');
    const attached = await handle.message({
      request: 'join',
      ptype: 'subscriber',
      room: this.access.roomId,
      streams: [{ feed }],
      private_id: this.privateId,
      token: this.access.joinToken,
    });
    if (!attached.jsep) throw new Error('subscribe answered without an SDP offer');
    const pc = new w.RTCPeerConnection({ iceServers: [] });
    const sinks: (VideoSink | AudioSink)[] = [];
    pc.ontrack = (e) => {
      if (e.track.kind === 'video') {
        const sink = new w.nonstandard.RTCVideoSink(e.track);
        sink.onframe = (f) => {
          this.framesFrom.set(feed, (this.framesFrom.get(feed) ?? 0) + 1);
          latency?.decoded(feed, f.frame);
        };
        sinks.push(sink);
      } else if (e.track.kind === 'audio') {
        const sink = new w.nonstandard.RTCAudioSink(e.track);
        sink.ondata = () => this.audioFrom.set(feed, (this.audioFrom.get(feed) ?? 0) + 1);
        sinks.push(sink);
      }
    };
    await pc.setRemoteDescription(attached.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    await handle.message({ request: 'start' }, await gathered(pc));
    this.#subscriptions.push({ handle, pc, sinks });
  }

  /** Inbound RTP of every subscription: packets received and lost, jitter (s). */
  async inboundStats(): Promise<{ packetsReceived: number; packetsLost: number; jitter: number }[]> {
    const out: { packetsReceived: number; packetsLost: number; jitter: number }[] = [];
    for (const s of this.#subscriptions) {
      for (const r of (await s.pc.getStats()).values()) {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          out.push({ packetsReceived: Number(r.packetsReceived ?? 0), packetsLost: Number(r.packetsLost ?? 0), jitter: Number(r.jitter ?? 0) });
        }
      }
    }
    return out;
  }

  /** Our publisher's round-trip time to the node (RTCP receiver reports), in ms. */
  async publisherRttMs(): Promise<number | undefined> {
    if (!this.#publisher) return undefined;
    for (const r of (await this.#publisher.pc.getStats()).values()) {
      if (r.type === 'remote-inbound-rtp' && typeof r.roundTripTime === 'number') return r.roundTripTime * 1000;
    }
    return undefined;
  }

  async close(): Promise<void> {
    for (const s of this.#subscriptions) {
      for (const k of s.sinks) k.stop();
      s.pc.close();
    }
    if (this.#publisher) {
      for (const t of this.#publisher.timers) clearInterval(t);
      this.#publisher.pc.close();
    }
    await this.client.close();
  }
}

/**
 * Two RTCPeerConnections in this process connected to each other with no server between them,
 * sending the same synthetic video as a publisher does: the anchor for what an SFU adds.
 */
export async function directPair(options: PublishOptions, feed = 'direct'): Promise<{ frames: () => number; close: () => void }> {
  const sender = new w.RTCPeerConnection({ iceServers: [] });
  const receiver = new w.RTCPeerConnection({ iceServers: [] });
  const video = new w.nonstandard.RTCVideoSource();
  sender.addTrack(video.createTrack());
  let frames = 0;
  let sink: VideoSink | undefined;
  receiver.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    sink = new w.nonstandard.RTCVideoSink(e.track);
    sink.onframe = (f) => {
      frames += 1;
      options.latency?.decoded(feed, f.frame);
    };
  };
  const timer = syntheticVideo(video, options, feed);
  await sender.setLocalDescription(await sender.createOffer());
  await receiver.setRemoteDescription(await gathered(sender));
  await receiver.setLocalDescription(await receiver.createAnswer());
  await sender.setRemoteDescription(await gathered(receiver));
  return {
    frames: () => frames,
    close: () => {
      clearInterval(timer);
      sink?.stop();
      sender.close();
      receiver.close();
    },
  };
}
