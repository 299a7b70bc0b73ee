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
interface VideoSink {
  onframe: ((e: { frame: { width: number; height: number } }) => void) | null;
  stop(): void;
}

const w = wrtc as unknown as {
  RTCPeerConnection: typeof RTCPeerConnection;
  MediaStream: typeof MediaStream;
  nonstandard: { RTCVideoSource: new () => VideoSource; RTCVideoSink: new (track: MediaStreamTrack) => VideoSink };
};

/** RTCPeerConnection and MediaStream as globals, as the web client expects them. */
export function installWrtc(): void {
  Object.assign(globalThis, { RTCPeerConnection: w.RTCPeerConnection, MediaStream: w.MediaStream });
}

export const NodeMediaStream = w.MediaStream;

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
  const track = source.createTrack();
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

/** Calls `onFrame` with each decoded frame's size; returns the sink's stop. */
export function countFrames(track: MediaStreamTrack, onFrame: (size: { width: number; height: number }) => void): () => void {
  const sink = new w.nonstandard.RTCVideoSink(track);
  sink.onframe = (e) => onFrame(e.frame);
  return () => sink.stop();
}
