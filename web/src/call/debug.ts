/**
 * `window.__lessoncall`: a small handle on the current call for the browser tests, the
 * join-to-frame benchmark and anyone debugging in the console of a dev server. It can only do
 * what the user could do to their own call (read its state, drop their own socket), but it
 * hands out the TURN credentials, so only dev and test builds (`vite build --mode test`, what
 * the browser suite builds) install it; a production bundle does not contain it
 * (web/test/production-build.test.ts).
 */
import type { CallController, CallSnapshot } from './call';
import { localCandidateType, type StatLike } from './stats';

export interface LessoncallDebug {
  snapshot(): CallSnapshot;
  /** Drops the signaling socket as a network failure would; the call reconnects and resumes. */
  dropSignaling(): void;
  /** Per remote session: the video sender's encoding limits (what the adaptation set). */
  videoEncodings(): Record<string, { maxBitrate?: number; scaleResolutionDownBy?: number; maxFramerate?: number } | undefined>;
  /** Restarts ICE on every connection (what the call does by itself after a network change). */
  restartIce(): void;
  /** Inbound video frames decoded per remote session, from getStats. */
  framesDecoded(): Promise<Record<string, number>>;
  /** Selected candidate pair's local candidate type per remote session (`relay`, `host`, …). */
  candidateTypes(): Promise<Record<string, string | undefined>>;
  /** sfu: what our publisher sends, per simulcast layer (outbound-rtp video: rid, frame size, frames encoded). */
  publisherLayers(): Promise<{ rid: string | undefined; width: number | undefined; height: number | undefined; framesEncoded: number }[]>;
  /** The RTCConfiguration of the first peer connection (ICE servers with their TURN credentials, transport policy). */
  rtcConfiguration(): RTCConfiguration | undefined;
  /** Per remote session: what each sender sends, how many transceivers, and the local SDP (it changes only on renegotiation). */
  connections(): Record<
    string,
    { senders: { kind: string | undefined; label: string | undefined; id: string | undefined }[]; transceivers: number; localSdp: string | undefined }
  >;
}

declare global {
  interface Window {
    __lessoncall?: LessoncallDebug;
  }
}

export function exposeForTests(c: CallController): () => void {
  const handle: LessoncallDebug = {
    snapshot: () => c.getSnapshot(),
    dropSignaling: () => c.dropSignaling(),
    restartIce: () => c.restartIce(),
    videoEncodings() {
      const out: ReturnType<LessoncallDebug['videoEncodings']> = {};
      for (const [id, pc] of c.peerConnections()) {
        const sender = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video' && t.mid !== null)?.sender;
        const e = sender?.getParameters().encodings?.[0];
        out[id] = e ? { maxBitrate: e.maxBitrate, scaleResolutionDownBy: e.scaleResolutionDownBy, maxFramerate: e.maxFramerate } : undefined;
      }
      return out;
    },
    async framesDecoded() {
      const out: Record<string, number> = {};
      for (const [id, pc] of c.peerConnections()) {
        let frames = 0;
        for (const s of (await pc.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
        out[id] = frames;
      }
      return out;
    },
    async candidateTypes() {
      const out: Record<string, string | undefined> = {};
      for (const [id, pc] of c.peerConnections()) {
        out[id] = localCandidateType((await pc.getStats()).values() as Iterable<StatLike>);
      }
      return out;
    },
    async publisherLayers() {
      const pc = c.sfuPublisher();
      if (!pc) return [];
      const out: Awaited<ReturnType<LessoncallDebug['publisherLayers']>> = [];
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'outbound-rtp' && s.kind === 'video')
          out.push({ rid: s.rid, width: s.frameWidth, height: s.frameHeight, framesEncoded: s.framesEncoded ?? 0 });
      }
      return out;
    },
    rtcConfiguration() {
      const [first] = c.peerConnections().values();
      return first?.getConfiguration();
    },
    connections() {
      const out: ReturnType<LessoncallDebug['connections']> = {};
      for (const [id, pc] of c.peerConnections()) {
        out[id] = {
          senders: pc.getSenders().map((s) => ({ kind: s.track?.kind, label: s.track?.label, id: s.track?.id })),
          transceivers: pc.getTransceivers().length,
          localSdp: pc.localDescription?.sdp,
        };
      }
      return out;
    },
  };
  window.__lessoncall = handle;
  return () => {
    if (window.__lessoncall === handle) delete window.__lessoncall;
  };
}
