/**
 * The browser's WebRTC in Node (@roamhq/wrtc), for driving the web client's own call code
 * (SfuSession, SignalingClient) without a browser: the globals it uses, a synthetic camera, and
 * a counter of the frames decoded from a remote track.
 */
import wrtc from '@roamhq/wrtc';

interface VideoSource {
  createTrack(): MediaStreamTrack;
  onFrame(f: { width: number; height: number; data: Uint8Array }): void;
}
interface AudioSource {
  createTrack(): MediaStreamTrack;
  onData(d: { samples: Int16Array; sampleRate: number; bitsPerSample: number; channelCount: number; numberOfFrames: number }): void;
}
interface VideoSink {
  onframe: ((e: { frame: { width: number; height: number } }) => void) | null;
  stop(): void;
}

const w = wrtc as unknown as {
  RTCPeerConnection: typeof RTCPeerConnection;
  MediaStream: typeof MediaStream;
  nonstandard: {
    RTCVideoSource: new () => VideoSource;
    RTCVideoSink: new (track: MediaStreamTrack) => VideoSink;
    RTCAudioSource: new () => AudioSource;
  };
};

/** RTCPeerConnection and MediaStream as globals, as the web client expects them. */
export function installWrtc(): void {
  Object.assign(globalThis, { RTCPeerConnection: w.RTCPeerConnection, MediaStream: w.MediaStream });
}

export const NodeMediaStream = w.MediaStream;

/** A source's track and the timer feeding it; stop ends both. */
function fedTrack(track: MediaStreamTrack, timer: NodeJS.Timeout): { track: MediaStreamTrack; stop(): void } {
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

/** A camera sending frames of changing shade until `stop` (the returned timer is cleared). */
export function syntheticCamera(options: { width?: number; height?: number; intervalMs?: number } = {}): { track: MediaStreamTrack; stop(): void } {
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const source = new w.nonstandard.RTCVideoSource();
  // Grey (chroma at its midpoint) with a white bar that moves a little every frame, so that every
  // frame differs and a screenshot shows which tile is live.
  const frame = new Uint8Array(width * height * 1.5).fill(128);
  const bar = Math.max(4, Math.round(width / 16));
  let x = 0;
  const timer = setInterval(() => {
    x = (x + 4) % width;
    frame.fill(60, 0, width * height);
    for (let row = 0; row < height; row++) frame.fill(235, row * width + x, row * width + Math.min(width, x + bar));
    source.onFrame({ width, height, data: frame });
  }, options.intervalMs ?? 66);
  return fedTrack(source.createTrack(), timer);
}

/** Calls `onFrame` with each decoded frame's size; returns the sink's stop. */
export function countFrames(track: MediaStreamTrack, onFrame: (size: { width: number; height: number }) => void): () => void {
  const sink = new w.nonstandard.RTCVideoSink(track);
  sink.onframe = (e) => onFrame(e.frame);
  return () => sink.stop();
}

/** A microphone playing a steady tone (someone who keeps talking, for the active speaker). */
export function syntheticTone(hz = 440): { track: MediaStreamTrack; stop(): void } {
  const source = new w.nonstandard.RTCAudioSource();
  const sampleRate = 48_000;
  const perChunk = sampleRate / 100;
  let t = 0;
  const timer = setInterval(() => {
    const samples = new Int16Array(perChunk);
    for (let i = 0; i < perChunk; i++, t++) samples[i] = Math.round(12_000 * Math.sin((2 * Math.PI * hz * t) / sampleRate));
    source.onData({ samples, sampleRate, bitsPerSample: 16, channelCount: 1, numberOfFrames: perChunk });
  }, 10);
  return fedTrack(source.createTrack(), timer);
}
