/**
 * A student of a group lesson without a browser: the web client's own call code in Node with
 * @roamhq/wrtc — the meeting read over REST (GatewayApi), hello → welcome → sfu_access over the
 * WebSocket (SignalingClient), then the Janus room (SfuSession): it publishes a synthetic camera
 * once and counts the frames it decodes from everyone else, per session.
 */
import { signDevToken } from '@lessoncall/gateway';
import type { SfuAccess } from '@lessoncall/proto';
import { nodeWebSocket } from '@lessoncall/media/janus';
import { WebSocket } from 'ws';
import { GatewayApi } from '../src/call/api';
import { SfuSession, type VideoWanted } from '../src/call/sfu';
import { SignalingClient, type WebSocketLike } from '../src/call/signaling';
import { countFrames, installWrtc, NodeMediaStream, syntheticCamera, syntheticTone } from '../test/wrtc';
import type { StackEnv } from './stack';

installWrtc();

export class WrtcStudent {
  /** Frames decoded per remote session (its publisher id). */
  readonly framesFrom = new Map<string, number>();
  /** The width of the last frame decoded per remote session. */
  readonly widthFrom = new Map<string, number>();
  readonly logs: string[] = [];
  #sfu: SfuSession | undefined;
  readonly #stops: (() => void)[] = [];

  private constructor(
    readonly name: string,
    readonly sessionId: string,
    private readonly signaling: SignalingClient,
    private readonly toneHz: number | undefined,
  ) {}

  /** What this student's stage would show: the feeds' video and layers Janus sends it. */
  setVideoWanted(wanted: ReadonlyMap<string, VideoWanted>): void {
    this.#sfu?.setVideoWanted(wanted);
  }

  /** `toneHz`: this student talks (a steady tone on its microphone); otherwise it publishes video only. */
  static async join(env: StackEnv, meeting: { meetingId: string; passcode: string }, userId: string, name: string, toneHz?: number): Promise<WrtcStudent> {
    const accessToken = await signDevToken(
      { JWT_SECRET: env.JWT_SECRET as string, JWT_ISSUER: env.JWT_ISSUER as string, JWT_AUDIENCE: env.JWT_AUDIENCE as string },
      { userId, displayName: name },
    );
    const api = new GatewayApi(env.GATEWAY_URL);
    const details = await api.getMeeting(meeting.meetingId, meeting.passcode, accessToken);
    if (details.meeting.mediaMode !== 'sfu') throw new Error(`${name}: the meeting is ${details.meeting.mediaMode}, not sfu`);
    let student: WrtcStudent | undefined;
    const early: SfuAccess[] = [];
    const signaling = new SignalingClient(
      {
        url: GatewayApi.webSocketUrl(meeting.meetingId, new URL(env.GATEWAY_URL)),
        hello: async () => ({ accessToken, meetingId: meeting.meetingId, passcode: meeting.passcode, displayName: name }),
        createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      },
      {
        message: (m) => {
          if (m.kind.case !== 'sfuAccess') return;
          if (student) void student.#start(m.kind.value);
          else early.push(m.kind.value);
        },
      },
    );
    const welcome = await signaling.join();
    student = new WrtcStudent(name, welcome.sessionId, signaling, toneHz);
    for (const a of early) await student.#start(a);
    return student;
  }

  async #start(access: SfuAccess) {
    const old = this.#sfu;
    await old?.close().catch(() => {});
    const camera = syntheticCamera({ width: 320, height: 240, intervalMs: 66 });
    this.#stops.push(camera.stop);
    const mic = this.toneHz === undefined ? undefined : syntheticTone(this.toneHz);
    if (mic) this.#stops.push(mic.stop);
    const sinks = new Set<MediaStreamTrack>();
    const session = new SfuSession({
      access,
      iceServers: [],
      forceRelay: false,
      local: () => ({ audio: mic?.track, video: camera.track, stream: new NodeMediaStream(mic ? [mic.track, camera.track] : [camera.track]) }),
      createSocket: nodeWebSocket,
      events: {
        remoteStream: (from, stream) => {
          this.widthFrom.delete(from);
          for (const track of stream.getVideoTracks()) {
            if (sinks.has(track)) continue;
            sinks.add(track);
            this.#stops.push(
              countFrames(track, (f) => {
                this.framesFrom.set(from, (this.framesFrom.get(from) ?? 0) + 1);
                this.widthFrom.set(from, f.width);
              }),
            );
          }
        },
        remoteGone: () => {},
        connectionState: (s) => this.logs.push(`publisher ${s}`),
        lost: () => this.logs.push('janus socket lost'),
        log: (message, error) => this.logs.push(`${message}${error ? ` ${String(error)}` : ''}`),
      },
    });
    this.#sfu = session;
    await session.start();
  }

  async leave(): Promise<void> {
    for (const stop of this.#stops) stop();
    await this.#sfu?.close().catch(() => {});
    this.signaling.leave();
  }
}
