/**
 * One call, from the lobby to the end: owns the state machine, the local media, the signaling
 * socket and one PeerLink per other participant, and publishes an immutable snapshot that the
 * React components render (useSyncExternalStore). Nothing here knows about React.
 */
import type { LessonRecord, SfuAccess, Welcome } from '@lessoncall/proto';
import type { GatewayApi } from './api';
import type { Auth } from './auth';
import { describeError, describeMeetingEnd, describePeerLeft, GatewayError, type UserMessage } from './errors';
import type { Adaptation, VideoLevel } from './adaptation';
import { BoardHub } from './board';
import { ChatStore } from './chat';
import {
  browserOf,
  hasRelayCandidate,
  hasRemoteMedia,
  iceFailureReason,
  isRelayed,
  type JoinReport,
  JoinReporter,
  noMediaTimeoutMs,
  reasonForJoinError,
} from './join-report';
import { AudioMix } from './audio-mix';
import { resumeVideoEvent, type ResumeReason, watchPageLifecycle } from './lifecycle';
import { mark } from './marks';
import { canPickSpeaker, type DeviceLists, describeDeviceChange, deviceChange, fallbackSteps } from './devices';
import { type Devices, LevelMeter, LocalMedia, type LocalMediaSnapshot } from './media';
import { type LocalTracks, PeerLink } from './peer';
import { PrecallCheck } from './precall-check';
import { loopbackCall, probeRelay } from './precall-probe';
import { type MeetingView, type ParticipantView, participantView, rtcIceServers, type ServerMessage, type UserType } from './protocol';
import { QualityReporter } from './quality-report';
import { SenderAdapter } from './sender-adapter';
import { nextSpotlight, type Spotlight } from './layout';
import { browserSimulcasts, SfuSession, type VideoWanted } from './sfu';
import { SignalingClient, type SignalingClosed, type WebSocketFactory } from './signaling';
import { type CallEvent, type CallState, initialCallState, isLive, transition } from './state';
import { type PeerQuality, type StatLike, type StatsSample, summarizeStats, summarizeUplink, type UplinkQuality, type UplinkSample } from './stats';
import { TutorControls, type TutorControlsSnapshot } from './tutor-controls';

export type MeetingLoad =
  | { status: 'idle' }
  | { status: 'needs-passcode' }
  | { status: 'loading' }
  | { status: 'ready' }
  /** retryAt: when the countdown ends (not started: the lobby loads again by itself then). */
  | { status: 'error'; error: UserMessage; retryAt: number | undefined };

export interface RemotePeer {
  participant: ParticipantView;
  stream: MediaStream | undefined;
  connection: RTCPeerConnectionState;
  quality: PeerQuality | undefined;
  screenSharing: boolean;
}

export interface SelfState {
  userId: string | undefined;
  displayName: string;
  userType: UserType | undefined;
  sessionId: string | undefined;
  audioMuted: boolean;
  cameraOff: boolean;
  screenSharing: boolean;
  /** Set when someone else (the tutor) muted us. */
  mutedByOther: boolean;
}

export interface Notice {
  id: number;
  text: string;
}

export interface CallSnapshot {
  call: CallState;
  meetingId: string;
  passcode: string | undefined;
  forceRelay: boolean;
  meeting: MeetingView | undefined;
  meetingLoad: MeetingLoad;
  /** Who is already in the lesson, from the lobby's meeting request. */
  presentInLobby: ParticipantView[];
  self: SelfState;
  local: LocalMediaSnapshot & {
    audioMessage: UserMessage | undefined;
    videoMessage: UserMessage | undefined;
    /** A camera/microphone request is in flight: what we would announce is not known yet. */
    settling: boolean;
  };
  /** Everyone else in the meeting, in join order. */
  peers: RemotePeer[];
  /** 'self' or a session id. */
  activeSpeaker: string | undefined;
  /** An sfu meeting (a group on the Janus room): the stage has a large tile and pages. */
  sfu: boolean;
  /** sfu: the remote session in the large tile (the active speaker, held so it does not flicker). */
  spotlight: string | undefined;
  /** sfu: our own uplink to the room, from the publisher connection's stats. */
  uplink: { quality: UplinkQuality | undefined; connection: RTCPeerConnectionState } | undefined;
  notices: Notice[];
  signalingRttMs: number | undefined;
  /** How our video adapts to the network (the weakest peer decides). */
  network: NetworkState;
  /** The speaker remote audio plays on (setSinkId); undefined: the system default. */
  speakerId: string | undefined;
  /** The browser can route audio to a chosen speaker (setSinkId; not Safari before 18.4). */
  canPickSpeaker: boolean;
  /** The tutor's controls: the prompt to unmute, the camera turned off, who was removed. */
  tutor: TutorControlsSnapshot;
}

export interface NetworkState {
  video: VideoLevel['name'];
  /** Our own connection is the weak one. */
  weakLocal: boolean;
  /** Even the lowest video level does not get through: the call offers audio only. */
  offerAudioOnly: boolean;
}

export interface CallOptions {
  api: GatewayApi;
  auth: Auth;
  wsUrl: string;
  meetingId: string;
  passcode: string | undefined;
  /** TURN relay only (`?relay=1` or VITE_ICE_TRANSPORT_POLICY=relay). */
  forceRelay: boolean;
  createSocket?: WebSocketFactory;
  /** Media devices (tests pass fakes); defaults to navigator.mediaDevices. */
  mediaDevices?: MediaDevices;
  now?: () => number;
  log?: (message: string, extra?: unknown) => void;
  statsIntervalMs?: number;
  speakerIntervalMs?: number;
  /** If a peer announced by peerJoined has not sent an offer after this long, we offer. */
  offerFallbackMs?: number;
}

const speakingThreshold = 0.04;
const noticeMs = 6_000;

export class CallController {
  private readonly opts: Required<Omit<CallOptions, 'createSocket' | 'mediaDevices'>> & Pick<CallOptions, 'createSocket' | 'mediaDevices'>;
  private state: CallState = initialCallState;
  private meeting: MeetingView | undefined;
  private meetingLoad: MeetingLoad = { status: 'idle' };
  private presentInLobby: ParticipantView[] = [];
  private passcode: string | undefined;
  private displayName = '';
  private userType: UserType | undefined;
  private sessionId: string | undefined;
  private audioMuted = false;
  private cameraOff = false;
  private screenSharing = false;
  private mutedByOther = false;
  /** Device requests in flight (getUserMedia can take seconds): join waits for them to settle. */
  private readonly pendingMedia = new Set<Promise<unknown>>();
  private readonly media: LocalMedia;
  private meter: LevelMeter | undefined;
  private meterTrack: MediaStreamTrack | undefined;
  private signaling: SignalingClient | undefined;
  private iceServers: RTCIceServer[] = [];
  private readonly roster = new Map<string, ParticipantView>();
  private readonly links = new Map<string, PeerLink>();
  /** An sfu meeting (the welcome says so): media goes through the Janus room, not the mesh's links. */
  private sfuMode = false;
  private sfu: SfuSession | undefined;
  private sfuRetry: ReturnType<typeof setTimeout> | undefined;
  private spotlight: Spotlight | undefined;
  /** What the stage shows (CallRoom), pushed to the room debounced: a resize or a page turn sends one configure per feed. */
  private stageVideo: ReadonlyMap<string, VideoWanted> | undefined;
  private stageVideoKey = '';
  private stageVideoTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly sfuSamples = new Map<string, StatsSample>();
  private uplink: { quality: UplinkQuality | undefined; connection: RTCPeerConnectionState; sample?: UplinkSample } | undefined;
  private readonly remote = new Map<string, { stream?: MediaStream; connection: RTCPeerConnectionState; quality?: PeerQuality; screenSharing: boolean }>();
  private readonly offerTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private activeSpeaker: string | undefined;
  private speakerHeldUntil = 0;
  private notices: Notice[] = [];
  private nextNotice = 1;
  private signalingRttMs: number | undefined;
  private readonly adapters = new Map<string, SenderAdapter>();
  /** Call quality for the lesson record, one sample per peer every 10 s and at the end. */
  private readonly qualityReports = new QualityReporter();
  private speakerId: string | undefined;
  /** While a screen share has sound: the mic and the tab's audio, mixed (the one audio sender sends it). */
  private mix: AudioMix | undefined;
  private network: NetworkState = { video: 'full', weakLocal: false, offerAudioOnly: false };
  private timers: ReturnType<typeof setInterval>[] = [];
  /** The join service level: how long until the other participant's media, as the gateway is told. */
  private readonly reporter = new JoinReporter(
    (report) => void this.sendJoinReport(report),
    () => globalThis.performance?.now() ?? Date.now(),
    browserOf(globalThis.navigator?.userAgent ?? ''),
  );
  private mediaWatch: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private renewing = false;
  private readonly listeners = new Set<() => void>();
  private snapshotValue: CallSnapshot;
  private dirty = false;
  private disposed = false;
  /** The call's chat (web/src/call/chat.ts); its panel subscribes to it directly. */
  readonly chat = new ChatStore({ send: (requestId, clientMessageId, text) => this.signaling?.chat(requestId, clientMessageId, text) });
  private readonly tutor = new TutorControls({ notify: (text) => this.notify(text), changed: () => this.changed() });
  /** The lobby's connection check (precall-check.ts); its panel subscribes to it directly. Join cancels it. */
  readonly precall = new PrecallCheck({
    credentials: async () => this.opts.api.precallIceServers(this.opts.meetingId, this.passcode ?? '', await this.opts.auth.accessToken()),
    tracks: () => {
      const local = this.media.snapshot();
      return { audio: local.audioTrack, video: local.videoTrack, cameraOff: this.cameraOff };
    },
    relay: (transport, server, signal) => probeRelay(transport, server, signal),
    loopback: (server, tracks, signal) => loopbackCall(server, tracks, signal),
  });
  /** The whiteboard's lock state and message routing; its editor is loaded with the board panel (web/src/ui/BoardPanel.tsx). */
  readonly board = new BoardHub({
    update: (requestId, update) => this.signaling?.sendData({ case: 'boardUpdate', value: { update } }, requestId),
    sync: (requestId, stateVector) => this.signaling?.sendData({ case: 'boardSync', value: { stateVector } }, requestId),
    control: (requestId, control) => this.signaling?.sendData({ case: 'boardControl', value: control }, requestId),
  });

  constructor(options: CallOptions) {
    this.opts = {
      now: Date.now,
      log: () => {},
      statsIntervalMs: 2_000,
      speakerIntervalMs: 250,
      offerFallbackMs: 2_500,
      ...options,
    };
    this.passcode = options.passcode;
    this.displayName = options.auth.user()?.displayName ?? '';
    this.media = new LocalMedia(
      () => this.changed(),
      options.mediaDevices,
      (before, after) => void this.onDevicesChanged(before, after),
    );
    this.snapshotValue = this.buildSnapshot();
  }

  // ── React binding ────────────────────────────────────────────────────────

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  getSnapshot = (): CallSnapshot => this.snapshotValue;

  private changed() {
    if (this.dirty || this.disposed) return;
    this.dirty = true;
    queueMicrotask(() => {
      this.dirty = false;
      this.snapshotValue = this.buildSnapshot();
      for (const l of this.listeners) l();
    });
  }

  private buildSnapshot(): CallSnapshot {
    const local = this.media.snapshot();
    const announced = this.announcedMedia();
    const peers: RemotePeer[] = [...this.roster.values()].map((p) => {
      const r = this.remote.get(p.sessionId);
      return { participant: p, stream: r?.stream, connection: r?.connection ?? 'new', quality: r?.quality, screenSharing: r?.screenSharing ?? false };
    });
    return {
      call: this.state,
      meetingId: this.opts.meetingId,
      passcode: this.passcode,
      forceRelay: this.opts.forceRelay,
      meeting: this.meeting,
      meetingLoad: this.meetingLoad,
      presentInLobby: this.presentInLobby,
      self: {
        userId: this.opts.auth.user()?.userId,
        displayName: this.displayName,
        userType: this.userType,
        sessionId: this.sessionId,
        audioMuted: announced.audioMuted,
        cameraOff: announced.cameraOff,
        screenSharing: this.screenSharing,
        mutedByOther: this.mutedByOther,
      },
      local: {
        ...local,
        audioMessage: local.audioError ? describeError(local.audioError) : undefined,
        videoMessage: local.videoError ? describeError(local.videoError) : undefined,
        settling: this.pendingMedia.size > 0,
      },
      peers,
      activeSpeaker: this.activeSpeaker,
      sfu: this.sfuMode,
      spotlight: this.spotlight?.id,
      uplink: this.uplink && { quality: this.uplink.quality, connection: this.uplink.connection },
      notices: this.notices,
      signalingRttMs: this.signalingRttMs,
      network: this.network,
      speakerId: this.speakerId,
      canPickSpeaker: canPickSpeaker(),
      tutor: this.tutor.snapshot(),
    };
  }

  private dispatch(event: CallEvent) {
    const next = transition(this.state, event);
    if (next === this.state) return false;
    this.opts.log(`call: ${this.state.phase} → ${next.phase}`, event.type);
    this.state = next;
    this.changed();
    return true;
  }

  private notify(text: string) {
    const n = { id: this.nextNotice++, text };
    this.notices = [...this.notices.slice(-2), n];
    this.changed();
    setTimeout(() => {
      this.notices = this.notices.filter((x) => x !== n);
      this.changed();
    }, noticeMs);
  }

  // ── Lobby ────────────────────────────────────────────────────────────────

  /** Opens the lobby: camera and microphone preview, and the lesson's details. */
  async openLobby(): Promise<void> {
    this.dispatch({ type: 'open-lobby' });
    await Promise.all([this.startMedia(), this.loadMeeting()]);
  }

  private async startMedia() {
    await this.settle(this.media.start({ audio: true, video: !this.cameraOff }));
    this.attachMeter();
    this.changed();
  }

  async retryMedia(): Promise<void> {
    await this.settle(this.media.retry());
    this.attachMeter();
  }

  /**
   * Tracks a device request until it ends. While one is open, the tracks we would send are not
   * known, and a hello sent then would announce "muted, camera off" for tracks that arrive a
   * moment later (issue 13: an early Join was shown as camera off while its video played).
   */
  private async settle<T>(request: Promise<T>): Promise<T> {
    this.pendingMedia.add(request);
    this.changed();
    try {
      return await request;
    } finally {
      this.pendingMedia.delete(request);
      this.changed();
    }
  }

  /** Resolves once no device request is in flight (including ones started while waiting). */
  private async mediaSettled(): Promise<void> {
    while (this.pendingMedia.size > 0) await Promise.allSettled([...this.pendingMedia]);
  }

  /**
   * What we tell the others (hello, the self view): derived from the tracks the peers are given
   * (localTracks), so the announced state is the state sent.
   */
  private announcedMedia(): { audioMuted: boolean; cameraOff: boolean } {
    const sent = this.localTracks();
    return { audioMuted: this.audioMuted || !sent.audio, cameraOff: !this.media.snapshot().videoTrack || this.cameraOff };
  }

  private attachMeter() {
    const track = this.media.snapshot().audioTrack;
    if (track === this.meterTrack) return;
    this.meter?.close();
    this.meter = undefined;
    this.meterTrack = track;
    if (track && typeof AudioContext !== 'undefined') this.meter = new LevelMeter(track);
  }

  /** Microphone level 0–1 for the lobby meter (polled per animation frame by the component). */
  micLevel(): number {
    if (!this.meter || this.audioMuted) return 0;
    return this.meter.level();
  }

  /** Called on a user gesture: audio contexts may only start after one. */
  userGesture(): void {
    this.meter?.resume();
  }

  setDisplayName(name: string): void {
    this.displayName = name.slice(0, 80);
    this.changed();
  }

  setPasscode(passcode: string): void {
    this.passcode = passcode;
    this.dispatch({ type: 'dismiss-error' });
    void this.loadMeeting();
  }

  async loadMeeting(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!this.passcode) {
      this.meetingLoad = { status: 'needs-passcode' };
      this.changed();
      return;
    }
    this.meetingLoad = { status: 'loading' };
    this.changed();
    try {
      const token = await this.opts.auth.accessToken();
      const details = await this.opts.api.getMeeting(this.opts.meetingId, this.passcode, token);
      this.meeting = details.meeting;
      this.presentInLobby = details.participants.filter((p) => p.userId !== this.opts.auth.user()?.userId);
      const closed = joinWindowProblem(details.meeting, this.opts.now());
      this.meetingLoad = closed ? this.loadError(closed) : { status: 'ready' };
    } catch (err) {
      this.meetingLoad = this.loadError(err);
    }
    this.changed();
  }

  private loadError(err: unknown): MeetingLoad {
    const error = describeError(err);
    const retryAt = error.retryAfterSeconds ? this.opts.now() + error.retryAfterSeconds * 1000 : undefined;
    if (err instanceof GatewayError && err.code === 'meeting_not_started' && retryAt) {
      // Come back when the window opens (timers far in the future are clamped; the page re-arms them).
      const wait = Math.min(retryAt - this.opts.now() + 250, 2 ** 31 - 1);
      this.retryTimer = setTimeout(() => void this.loadMeeting(), wait);
    }
    return { status: 'error', error, retryAt };
  }

  /** Lobby toggles: what the call starts with. */
  async setJoinMicMuted(muted: boolean): Promise<void> {
    if (isLive(this.state)) return this.toggleMic();
    this.audioMuted = muted;
    this.media.setMicMuted(muted);
  }

  async setJoinCameraOff(off: boolean): Promise<void> {
    if (isLive(this.state)) return this.toggleCamera();
    this.cameraOff = off;
    await this.settle(this.media.setCameraOn(!off));
    this.changed();
  }

  async selectCamera(deviceId: string): Promise<void> {
    const track = await this.settle(this.media.selectCamera(deviceId));
    if (!this.screenSharing) await this.sendVideo(track);
  }

  /** Remote audio plays on this output (the video elements apply it with setSinkId). */
  selectSpeaker(deviceId: string): void {
    this.speakerId = deviceId || undefined;
    this.changed();
  }

  /**
   * A device was plugged or unplugged: the one in use gone → the default, with a notice (the
   * peers get the new track with replaceTrack, no renegotiation); a new headset → offered.
   */
  private async onDevicesChanged(before: Devices, after: Devices) {
    const lists = (d: Devices): DeviceLists => ({ camera: d.cameras, microphone: d.microphones, speaker: d.speakers });
    const m = this.media.snapshot();
    const change = deviceChange(lists(before), lists(after), {
      ...(m.cameraDeviceId ? { camera: m.cameraDeviceId } : {}),
      ...(m.microphoneDeviceId ? { microphone: m.microphoneDeviceId } : {}),
      ...(this.speakerId ? { speaker: this.speakerId } : {}),
    });
    for (const step of fallbackSteps(change, { cameraOff: this.cameraOff, screenSharing: this.screenSharing })) {
      if (step.kind === 'speaker') {
        // The default alias plays on whatever the OS picks now; no id is the same thing.
        this.speakerId = undefined;
      } else if (step.kind === 'microphone') {
        const track = await this.settle(this.media.switchDevice('audio', step.deviceId));
        if (track) track.enabled = !this.audioMuted;
        this.attachMeter();
        await this.sendAudio(track);
      } else if (!step.acquire) {
        await this.media.selectCamera(step.deviceId ?? '');
      } else {
        const track = await this.settle(this.media.switchDevice('video', step.deviceId));
        if (step.sendToPeers) await this.sendVideo(track);
      }
    }
    for (const line of describeDeviceChange(change)) this.notify(line);
    this.changed();
  }

  async selectMicrophone(deviceId: string): Promise<void> {
    const track = await this.settle(this.media.selectMicrophone(deviceId));
    if (track) track.enabled = !this.audioMuted;
    this.attachMeter();
    await this.sendAudio(track);
  }

  // ── Joining and the call ─────────────────────────────────────────────────

  async join(): Promise<void> {
    if (!this.dispatch({ type: 'join' })) return;
    // The check's loopback call would compete with the lesson for the uplink.
    this.precall.cancel();
    mark('join');
    this.reporter.joinClicked();
    this.mutedByOther = false;
    this.tutor.reset();
    // The lobby keeps Join disabled while devices settle; a programmatic join waits here instead.
    await this.mediaSettled();
    if (this.state.phase !== 'joining') return; // left while waiting
    const signaling = new SignalingClient(
      {
        url: this.opts.wsUrl,
        hello: async () => ({
          accessToken: await this.opts.auth.accessToken(),
          meetingId: this.opts.meetingId,
          passcode: this.passcode ?? '',
          displayName: this.displayName.trim() || (this.opts.auth.user()?.displayName ?? ''),
          ...this.announcedMedia(),
        }),
        ...(this.opts.createSocket ? { createSocket: this.opts.createSocket } : {}),
      },
      {
        message: (m) => this.onMessage(m),
        signalGap: (from) => this.links.get(from)?.restartIce(),
        reconnecting: (attempt) => {
          if (this.renewing && attempt === 1) return;
          this.dispatch({ type: 'connection-lost', attempt });
        },
        rejoined: (w) => this.onRejoined(w),
        closed: (r) => this.onSignalingClosed(r),
        rtt: (ms) => {
          this.signalingRttMs = ms;
        },
      },
    );
    this.signaling = signaling;
    let welcome: Welcome;
    try {
      welcome = await signaling.join();
    } catch (err) {
      if (this.signaling === signaling) this.signaling = undefined;
      const error = describeError(err);
      if (err instanceof GatewayError) this.reporter.failed(reasonForJoinError(err.code, err.message), err.code);
      else this.reporter.failed('other');
      if (err instanceof GatewayError && err.code === 'meeting_not_started') this.meetingLoad = this.loadError(err);
      this.dispatch({ type: 'join-rejected', error });
      return;
    }
    if (this.state.phase !== 'joining') {
      signaling.leave(); // left while the hello was in flight
      return;
    }
    mark('welcome');
    this.sessionId = welcome.sessionId;
    this.userType = welcome.userType === 'tutor' ? 'tutor' : 'student';
    this.dispatch({ type: 'welcome', sessionId: welcome.sessionId, userType: this.userType });
    this.applyWelcome(welcome, false);
    this.startLoops();
  }

  /** The roster and ICE servers of a welcome; offers to everyone we have no connection with. */
  private applyWelcome(welcome: Welcome, resumed: boolean) {
    this.chat.setSelf(welcome.sessionId, this.opts.auth.user()?.userId);
    this.board.welcome();
    this.iceServers = rtcIceServers(welcome.iceServers);
    if (welcome.meeting) this.meeting = { ...(this.meeting ?? ({} as MeetingView)), ...withoutEmpty(welcome.meeting) };
    // The room's access follows the welcome (sfu_access); until then nobody is connected to.
    this.sfuMode = welcome.meeting?.mediaMode === 'sfu';
    const others = welcome.participants.map(participantView).filter((p) => p.sessionId !== welcome.sessionId);
    const me = welcome.participants.find((p) => p.sessionId === welcome.sessionId);
    if (me) {
      // The server's view of our mute state wins (the tutor may have muted us while we were away).
      if (me.isMuted && !this.audioMuted) this.applyOwnMute(true);
    }
    if (!resumed) {
      for (const id of [...this.links.keys()]) this.dropPeer(id);
      this.roster.clear();
    } else {
      for (const l of this.links.values()) l.setIceServers(this.iceServers);
      const live = new Set(others.map((p) => p.sessionId));
      for (const id of [...this.roster.keys()]) if (!live.has(id)) this.dropPeer(id);
    }
    for (const p of others) {
      this.roster.set(p.sessionId, p);
      if (this.sfuMode) continue;
      const link = this.links.get(p.sessionId);
      if (!link || link.pc.connectionState === 'failed' || link.pc.connectionState === 'closed') {
        if (link) this.dropPeer(p.sessionId, false);
        this.createPeer(p.sessionId).initiate();
      }
    }
    this.scheduleRenewal(welcome.iceTtlSeconds);
    this.changed();
  }

  private onRejoined(welcome: Welcome) {
    const wasRenewing = this.renewing;
    this.renewing = false;
    this.sessionId = welcome.sessionId;
    this.dispatch({ type: 'welcome', sessionId: welcome.sessionId, userType: this.userType ?? 'student' });
    this.applyWelcome(welcome, welcome.resumed);
    if (wasRenewing) {
      // Fresh TURN credentials: move relayed connections onto allocations made with them.
      for (const l of this.links.values()) l.restartIce();
    }
  }

  /**
   * TURN credentials expire (iceTtlSeconds); a relayed call would lose its allocation when
   * coturn refuses the refresh. Before that, resume the socket to get fresh ones.
   */
  private scheduleRenewal(ttlSeconds: number) {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    if (!ttlSeconds) return;
    this.renewTimer = setTimeout(
      () => {
        if (this.state.phase !== 'in-call' || !this.signaling) return;
        this.renewing = true;
        this.signaling.dropConnection();
      },
      Math.max(30_000, ttlSeconds * 800),
    );
  }

  private createPeer(sessionId: string): PeerLink {
    mark('peer-created');
    const mine = this.sessionId ?? '';
    const link = new PeerLink({
      remoteSessionId: sessionId,
      polite: mine > sessionId,
      config: {
        iceServers: this.iceServers,
        iceTransportPolicy: this.opts.forceRelay ? 'relay' : 'all',
        bundlePolicy: 'max-bundle',
        rtcpMuxPolicy: 'require',
        // Gather (and allocate on the TURN server) as soon as the connection exists, before its
        // first offer: off the critical path. (Chrome ignores the pool when it answers.)
        iceCandidatePoolSize: 1,
      },
      local: () => this.localTracks(),
      events: {
        signal: (signal) => this.signaling?.signal(sessionId, signal),
        remoteStream: (stream) => {
          this.updateRemote(sessionId, { stream });
        },
        connectionState: (connection) => this.updateRemote(sessionId, { connection }),
        remoteMeta: (meta) => {
          const before = this.remote.get(sessionId)?.screenSharing ?? false;
          this.updateRemote(sessionId, { screenSharing: meta.screenSharing });
          if (meta.screenSharing && !before) this.notify(`${this.nameOf(sessionId)} is sharing their screen`);
        },
        log: (message, error) => this.opts.log(`peer ${sessionId}: ${message}`, error),
      },
    });
    link.setMeta({ screenSharing: this.screenSharing });
    this.links.set(sessionId, link);
    this.remote.set(sessionId, { connection: 'new', screenSharing: false });
    // Arrivals after ours called peerPresent() on peerJoined already; anyone else was here first.
    this.reporter.peerPresent(true);
    this.watchFirstMedia(sessionId, link);
    return link;
  }

  /**
   * Until the first remote media (or the timeout), a cheap getStats every 100 ms: the join
   * report's time is to the frame, not to the next 2 s stats poll.
   */
  private watchFirstMedia(sessionId: string, link: PeerLink) {
    if (!this.reporter.waiting || this.mediaWatch) return;
    const stop = () => {
      clearInterval(this.mediaWatch);
      this.mediaWatch = undefined;
    };
    let busy = false;
    this.mediaWatch = setInterval(() => {
      if (busy) return;
      if (!this.reporter.waiting || this.links.get(sessionId) !== link) return stop();
      busy = true;
      void link.pc
        .getStats()
        .then((report) => {
          const stats = [...(report.values() as IterableIterator<StatLike>)];
          if (hasRemoteMedia(stats)) this.reporter.media(isRelayed(stats));
          else if ((this.reporter.waitedMs() ?? 0) > noMediaTimeoutMs) {
            const connected = link.pc.connectionState === 'connected';
            this.reporter.failed(connected ? 'no_remote_media' : iceFailureReason(this.opts.forceRelay, hasRelayCandidate(stats)));
          }
        })
        .catch(() => {})
        .finally(() => {
          busy = false;
          if (!this.reporter.waiting) stop();
        });
    }, 100);
  }

  private async sendJoinReport(report: JoinReport) {
    try {
      await this.opts.api.reportJoin(this.opts.meetingId, report, await this.opts.auth.accessToken());
    } catch (err) {
      this.opts.log('join report not sent', err);
    }
  }

  private updateRemote(
    sessionId: string,
    patch: Partial<{ stream: MediaStream; connection: RTCPeerConnectionState; quality: PeerQuality; screenSharing: boolean }>,
  ) {
    const cur = this.remote.get(sessionId) ?? { connection: 'new' as RTCPeerConnectionState, screenSharing: false };
    this.remote.set(sessionId, { ...cur, ...patch });
    this.changed();
  }

  private dropPeer(sessionId: string, fromRoster = true) {
    this.links.get(sessionId)?.close();
    this.links.delete(sessionId);
    this.remote.delete(sessionId);
    const timer = this.offerTimers.get(sessionId);
    if (timer) clearTimeout(timer);
    this.offerTimers.delete(sessionId);
    if (fromRoster) this.roster.delete(sessionId);
    if (this.activeSpeaker === sessionId) this.activeSpeaker = undefined;
    this.changed();
  }

  private localTracks(): LocalTracks {
    const m = this.media.snapshot();
    return { audio: this.mix?.track ?? m.audioTrack, video: m.screenTrack ?? (this.cameraOff ? undefined : m.videoTrack), stream: m.stream };
  }

  private nameOf(sessionId: string) {
    return this.roster.get(sessionId)?.displayName ?? 'Someone';
  }

  private onMessage(m: ServerMessage) {
    if (this.tutor.handle(m, { ofUser: (userId) => [...this.roster.values()].find((p) => p.userId === userId)?.displayName })) return;
    switch (m.kind.case) {
      case 'signal': {
        const { fromSessionId, signal } = m.kind.value;
        if (!signal || !fromSessionId || !isLive(this.state) || this.sfuMode) return;
        let link = this.links.get(fromSessionId);
        if (!link) link = this.createPeer(fromSessionId);
        void link.handleSignal(signal);
        return;
      }
      case 'peerJoined': {
        const p = m.kind.value.participant;
        if (!p || p.sessionId === this.sessionId) return;
        mark('peer-joined');
        this.reporter.peerPresent();
        const isNew = !this.roster.has(p.sessionId);
        this.roster.set(p.sessionId, participantView(p));
        if (isNew) this.notify(`${this.nameOf(p.sessionId)} joined`);
        if (this.sfuMode) {
          // Their media comes from the room when they publish (the SfuSession subscribes).
          this.changed();
          return;
        }
        // The newcomer offers. The connection is made now, while its offer travels: if we end up
        // offering (the fallback below) its candidates are already gathered (Chrome uses the
        // candidate pool for offers only), and either way the offer finds it ready.
        if (!this.links.has(p.sessionId) && isLive(this.state)) this.createPeer(p.sessionId);
        // If the offer does not come, we offer (perfect negotiation makes either safe).
        if (!this.offerTimers.has(p.sessionId)) {
          this.offerTimers.set(
            p.sessionId,
            setTimeout(() => {
              this.offerTimers.delete(p.sessionId);
              const link = this.links.get(p.sessionId);
              if (link && !link.started && isLive(this.state)) link.initiate();
            }, this.opts.offerFallbackMs),
          );
        }
        this.changed();
        return;
      }
      case 'sfuAccess':
        void this.startSfu(m.kind.value);
        return;
      case 'peerLeft': {
        const p = m.kind.value.participant;
        if (!p) return;
        if (p.sessionId === this.sessionId) return;
        const name = this.nameOf(p.sessionId);
        if (this.roster.has(p.sessionId)) this.notify(describePeerLeft(name, m.kind.value.reason));
        this.dropPeer(p.sessionId);
        return;
      }
      case 'muteChanged': {
        const c = m.kind.value;
        if (c.sessionId === this.sessionId) {
          const byOther = !!c.byUserId && c.byUserId !== this.opts.auth.user()?.userId;
          if (c.kind === 'audio') {
            if (c.muted && byOther && !this.audioMuted) {
              this.applyOwnMute(true);
              this.mutedByOther = true;
              this.notify('The tutor muted your microphone');
            }
            if (!c.muted) this.tutor.answerUnmute();
          } else if (c.muted && byOther) {
            void this.cameraOffByTutor();
          }
          this.changed();
          return;
        }
        const p = this.roster.get(c.sessionId);
        if (!p) return;
        this.roster.set(c.sessionId, c.kind === 'audio' ? { ...p, audioMuted: c.muted } : { ...p, cameraOff: c.muted });
        this.changed();
        return;
      }
      case 'chat':
        if (m.kind.value.message) this.chat.posted(m.kind.value.message);
        return;
      case 'chatHistory':
        this.chat.history(m.kind.value.messages);
        return;
      case 'meetingEnded':
        this.endCall();
        this.dispatch({ type: 'meeting-ended', message: describeMeetingEnd(m.kind.value.reason) });
        return;
      case 'boardUpdate':
      case 'boardState':
      case 'boardAck':
      case 'boardControl':
        this.board.message(m);
        return;
      case 'error': {
        if (this.board.message(m)) return;
        const e = m.kind.value;
        // The session ended on the server: the socket closes next and the client rejoins by itself.
        if (e.code === 'session_not_found') return;
        // A refused chat message is shown on the message itself (the server's reason names the limit).
        if (this.chat.failed(m.requestId, e.code === 'rate_limited' ? 'Too many messages at once; wait a moment and send again.' : e.message)) return;
        this.notify(describeError(new GatewayError(e.code, e.message, { retryAfterSeconds: e.retryAfterSeconds, attemptsLeft: e.attemptsLeft })).title);
        return;
      }
      default:
        return;
    }
  }

  private onSignalingClosed(reason: SignalingClosed) {
    if (reason.type === 'left' || reason.type === 'ended') return;
    const code = reason.error.code;
    this.endCall();
    if (code === 'meeting_ended' || code === 'meeting_cancelled') {
      this.dispatch({ type: 'meeting-ended', message: describeError(reason.error) });
    } else if (code === 'conflict') {
      this.dispatch({
        type: 'fatal',
        error: {
          code,
          title: 'The lesson continued in another window',
          detail: 'This session was taken over by another tab or device.',
          fix: 'Use the other window, or press “Back to the lobby” to move the lesson here.',
          retryable: true,
        },
      });
    } else {
      const base = describeError(reason.error);
      this.dispatch({
        type: 'fatal',
        error: reason.type === 'gave-up' ? { ...base, title: 'Lost the connection to the lesson', detail: 'We could not reconnect for a minute.' } : base,
      });
    }
  }

  private applyOwnMute(muted: boolean) {
    this.audioMuted = muted;
    this.media.setMicMuted(muted);
    this.changed();
  }

  async toggleMic(): Promise<void> {
    // Without a microphone track we show "muted" whatever the flag says; a click then means "on".
    const muted = !(this.audioMuted || !this.media.snapshot().audioTrack);
    if (!muted && !this.media.snapshot().audioTrack) {
      await this.media.start({ audio: true, video: false });
      const track = this.media.snapshot().audioTrack;
      if (!track) {
        const msg = this.media.snapshot().audioError;
        this.notify(msg ? describeError(msg).title : 'Microphone unavailable');
        return;
      }
      this.attachMeter();
      await this.sendAudio(track);
    }
    this.applyOwnMute(muted);
    if (!muted) {
      this.mutedByOther = false;
      this.tutor.answerUnmute();
    }
    if (isLive(this.state)) this.signaling?.setMedia('audio', muted);
  }

  async toggleCamera(): Promise<void> {
    const off = !(this.cameraOff || !this.media.snapshot().videoTrack);
    const wasOff = this.cameraOff;
    this.cameraOff = off;
    const track = await this.media.setCameraOn(!off);
    if (!off && !track) {
      this.cameraOff = wasOff;
      const err = this.media.snapshot().videoError;
      this.notify(err ? describeError(err).title : 'Camera unavailable');
      this.changed();
      return;
    }
    if (!this.screenSharing) await this.sendVideo(track);
    if (isLive(this.state)) this.signaling?.setMedia('video', off);
    if (!off) this.tutor.setCameraOffByTutor(false);
    this.changed();
  }

  /**
   * The tutor turned our camera off (the server already records it off): stop sending video and
   * release the camera, as our own button would; we may turn it on again.
   */
  private async cameraOffByTutor() {
    this.tutor.setCameraOffByTutor(true);
    this.notify('The tutor turned your camera off. You can turn it on again.');
    if (this.cameraOff) return;
    this.cameraOff = true;
    await this.media.setCameraOn(false);
    if (!this.screenSharing) await this.sendVideo(undefined);
    this.changed();
  }

  /** The microphone changed: the peers get it, or, while a share has sound, the mix takes it. */
  private async sendAudio(mic: MediaStreamTrack | undefined) {
    if (this.mix) {
      this.mix.setMic(mic);
      return;
    }
    for (const l of this.links.values()) await l.setTrack('audio', mic);
    await this.sfu?.setTrack('audio', mic);
  }

  private async sendVideo(track: MediaStreamTrack | undefined) {
    for (const l of this.links.values()) await l.setTrack('video', track);
    await this.sfu?.setTrack('video', track);
  }

  /**
   * The room's access (after the welcome, and again when the room moved to another node): join
   * the room, publish once, subscribe to the others. A refresh of the same room changes nothing.
   */
  private async startSfu(access: SfuAccess) {
    if (!isLive(this.state) || !this.sfuMode) {
      this.opts.log('sfu: access ignored', { phase: this.state.phase, sfuMode: this.sfuMode });
      return;
    }
    this.opts.log('sfu: joining the room', { url: access.url, generation: access.generation, reconnect: access.reconnect });
    if (this.sfu && !access.reconnect && this.sfu.access.url === access.url && this.sfu.access.generation === access.generation) return;
    if (access.reconnect) this.notify('Reconnecting the video…');
    const old = this.sfu;
    // Synchronously, before any await: a second access arriving meanwhile sees this session.
    const session = new SfuSession({
      access,
      iceServers: this.iceServers,
      forceRelay: this.opts.forceRelay,
      local: () => this.localTracks(),
      simulcast: browserSimulcasts(globalThis.navigator?.userAgent ?? ''),
      events: {
        remoteStream: (sessionId, stream) => {
          this.reporter.media(false);
          this.updateRemote(sessionId, { stream, connection: 'connected' });
        },
        remoteGone: (sessionId) => this.updateRemote(sessionId, { connection: 'disconnected' }),
        connectionState: (state) => {
          if (this.sfu !== session) return;
          this.uplink = { quality: this.uplink?.quality, connection: state };
          this.changed();
          if (state === 'failed') this.askSfuAgain();
        },
        lost: () => this.askSfuAgain(),
        log: (message, error) => this.opts.log(`sfu: ${message}`, error),
      },
    });
    this.sfu = session;
    session.setVideoWanted(this.stageVideo);
    await old?.close().catch(() => {});
    for (const id of this.remote.keys()) this.updateRemote(id, { connection: 'connecting' });
    try {
      await session.start();
      this.opts.log('sfu: publishing', { url: access.url });
    } catch (err) {
      this.opts.log('sfu: could not join the room', err);
      if (this.sfu === session) this.askSfuAgain();
    }
  }

  /**
   * What the stage shows (sfu): the feeds on the current page and each one's simulcast layer.
   * The room stops sending the video of everyone else. Undefined (a 1:1 lesson's stage): all, at the best layer.
   */
  setStageVideo(wanted: ReadonlyMap<string, VideoWanted> | undefined): void {
    const key = wanted ? JSON.stringify([...wanted].sort(([a], [b]) => a.localeCompare(b))) : '';
    if (key === this.stageVideoKey) return;
    this.stageVideoKey = key;
    this.stageVideo = wanted;
    if (this.stageVideoTimer) clearTimeout(this.stageVideoTimer);
    this.stageVideoTimer = setTimeout(() => {
      this.stageVideoTimer = undefined;
      this.sfu?.setVideoWanted(wanted);
    }, 250);
  }

  /** The room or its node went away: ask the gateway for access again (it may have moved). */
  private askSfuAgain() {
    if (this.sfuRetry || !isLive(this.state)) return;
    this.sfuRetry = setTimeout(() => {
      this.sfuRetry = undefined;
      const old = this.sfu;
      this.sfu = undefined;
      void old?.close().catch(() => {});
      this.signaling?.sendData({ case: 'sfuRefresh', value: {} });
    }, 1_000);
  }

  async toggleScreenShare(): Promise<void> {
    if (!isLive(this.state)) return;
    if (this.screenSharing) {
      this.stopScreenShare();
      return;
    }
    let track: MediaStreamTrack;
    let sound: MediaStreamTrack | undefined;
    try {
      ({ video: track, audio: sound } = await this.media.startScreen(() => this.stopScreenShare(false)));
    } catch (err) {
      const msg = describeError(err);
      if (msg.code !== 'screen_cancelled') this.notify(msg.title);
      return;
    }
    this.screenSharing = true;
    if (sound) {
      // One audio sender: the tab's sound and the microphone mixed, swapped in with replaceTrack.
      this.mix = new AudioMix(this.media.snapshot().audioTrack, sound);
      for (const l of this.links.values()) await l.setTrack('audio', this.mix.track);
      await this.sfu?.setTrack('audio', this.mix.track);
    }
    await this.sendVideo(track);
    for (const l of this.links.values()) l.setMeta({ screenSharing: true });
    this.changed();
  }

  private stopScreenShare(stopTrack = true) {
    if (!this.screenSharing) return;
    this.screenSharing = false;
    if (stopTrack) this.media.stopScreen();
    const mix = this.mix;
    this.mix = undefined;
    if (mix) {
      // Back to the microphone alone; the mix is closed once no sender uses it.
      const mic = this.media.snapshot().audioTrack;
      void Promise.all([...this.links.values()].map((l) => l.setTrack('audio', mic))).finally(() => mix.close());
    }
    const camera = this.cameraOff ? undefined : this.media.snapshot().videoTrack;
    this.changed();
    // Tell the others once the camera is what they receive again.
    void this.sendVideo(camera).finally(() => {
      if (!this.screenSharing) for (const l of this.links.values()) l.setMeta({ screenSharing: false });
    });
  }

  /** Tutor only (the gateway enforces it): mute another participant's microphone. */
  muteParticipant(sessionId: string): void {
    if (!isLive(this.state)) return;
    this.signaling?.setMedia('audio', true, sessionId);
  }

  // ── Tutor controls (the participant service decides who may) ─────────────

  /** Tutor: remove the participant of that session from the lesson (every tab of theirs; they cannot rejoin until allowed). */
  removeParticipant(sessionId: string): void {
    if (!isLive(this.state) || !this.signaling) return;
    this.tutor.sent(this.signaling.removeParticipant(sessionId), 'remove', this.nameOf(sessionId));
  }

  /** Tutor: let a removed user join again. */
  allowRejoin(userId: string): void {
    if (!isLive(this.state) || !this.signaling) return;
    const name = this.tutor.snapshot().removed.find((r) => r.userId === userId)?.displayName ?? 'They';
    this.tutor.sent(this.signaling.allowRejoin(userId), 'allow', name);
  }

  /** Tutor: a prompt on the student's screen, never a forced unmute. */
  askToUnmute(sessionId: string): void {
    if (!isLive(this.state) || !this.signaling) return;
    this.tutor.sent(this.signaling.askUnmute(sessionId), 'ask', this.nameOf(sessionId));
  }

  /** Tutor: turn a student's camera off (the student may turn it on again). */
  turnCameraOff(sessionId: string): void {
    if (!isLive(this.state)) return;
    this.signaling?.setMedia('video', true, sessionId);
  }

  /** Student: the answer to the tutor's ask: Unmute, or Not now. */
  async answerUnmuteAsk(unmute: boolean): Promise<void> {
    this.tutor.answerUnmute();
    if (unmute && (this.audioMuted || !this.media.snapshot().audioTrack)) await this.toggleMic();
  }

  leave(): void {
    if (!isLive(this.state) && this.state.phase !== 'joining') return;
    for (const sample of this.qualityReports.flush(this.opts.now())) this.signaling?.sendData({ case: 'qualityReport', value: { sample } });
    this.signaling?.leave();
    this.endCall();
    this.dispatch({ type: 'leave' });
  }

  /**
   * The lesson record, once the meeting has ended: the participant service writes it when it
   * handles meeting.ended, a moment after everyone was told, so a 409 is asked again for a while.
   */
  async lessonRecord(attempts = 20, waitMs = 500): Promise<LessonRecord> {
    for (let i = 1; ; i++) {
      try {
        return await this.opts.api.getRecord(this.opts.meetingId, await this.opts.auth.accessToken());
      } catch (err) {
        if (!(err instanceof GatewayError && err.code === 'conflict') || i >= attempts) throw err;
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  /** Tutor only (the meeting service enforces it): end the lesson for everyone. */
  async endForEveryone(): Promise<void> {
    if (!isLive(this.state)) return;
    try {
      await this.opts.api.endMeeting(this.opts.meetingId, await this.opts.auth.accessToken());
      // meetingEnded follows on the socket and moves everyone, us included, to the ended screen.
    } catch (err) {
      this.notify(describeError(err).title);
    }
  }

  /** From the ended or failed screen: back to the lobby (camera on again). */
  async rejoin(): Promise<void> {
    if (!this.dispatch({ type: 'rejoin' })) return;
    this.sessionId = undefined;
    await Promise.all([this.startMedia(), this.loadMeeting()]);
  }

  private endCall() {
    this.stopLoops();
    this.reporter.abandon();
    clearInterval(this.mediaWatch);
    this.mediaWatch = undefined;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    const s = this.signaling;
    this.signaling = undefined;
    s?.close();
    for (const id of [...this.links.keys()]) this.dropPeer(id);
    if (this.sfuRetry) clearTimeout(this.sfuRetry);
    this.sfuRetry = undefined;
    void this.sfu?.close().catch(() => {});
    this.sfu = undefined;
    if (this.stageVideoTimer) clearTimeout(this.stageVideoTimer);
    this.stageVideoTimer = undefined;
    this.stageVideo = undefined;
    this.stageVideoKey = '';
    this.spotlight = undefined;
    this.uplink = undefined;
    this.sfuSamples.clear();
    this.roster.clear();
    if (this.screenSharing) this.stopScreenShare();
    this.activeSpeaker = undefined;
    // The camera light goes off when the call is over.
    this.meter?.close();
    this.meter = undefined;
    this.meterTrack = undefined;
    this.media.stop();
    this.changed();
  }

  // ── Quality and active speaker ───────────────────────────────────────────

  /**
   * Back online, a new network, the page visible again: restart ICE on every connection that is
   * no longer connected (without waiting for the 3 s disconnected timer or a failure), and have
   * the video elements play again.
   */
  private resumeFromLifecycle(why: ResumeReason) {
    if (!isLive(this.state)) return;
    this.opts.log(`page lifecycle: ${why}`);
    for (const l of this.links.values()) if (l.pc.connectionState !== 'connected') l.restartIce();
    globalThis.window?.dispatchEvent(new Event(resumeVideoEvent));
  }

  private startLoops() {
    this.stopLoops();
    this.stopLifecycle = watchPageLifecycle((why) => this.resumeFromLifecycle(why));
    this.timers.push(setInterval(() => void this.pollStats(), this.opts.statsIntervalMs));
    this.timers.push(setInterval(() => this.pollSpeaker(), this.opts.speakerIntervalMs));
  }

  private stopLifecycle: () => void = () => {};

  private stopLoops() {
    this.stopLifecycle();
    this.stopLifecycle = () => {};
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private async pollStats() {
    const adaptations: Adaptation[] = [];
    for (const [id, link] of this.links) {
      try {
        const quality = await link.quality();
        if (this.links.get(id) !== link) continue;
        this.updateRemote(id, { quality });
        const sample = this.qualityReports.add(id, quality, this.opts.now());
        if (sample) this.signaling?.sendData({ case: 'qualityReport', value: { sample } });
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
    this.updateNetwork(adaptations);
    await this.pollSfuStats();
  }

  /** sfu: each subscription's inbound quality on its tile (and in the lesson record), our publisher's on our own tile. */
  private async pollSfuStats() {
    const session = this.sfu;
    if (!session) return;
    for (const { sessionId, pc } of session.connections()) {
      try {
        const { quality, sample } = summarizeStats((await pc.getStats()).values() as Iterable<StatLike>, this.sfuSamples.get(sessionId), this.opts.now());
        if (this.sfu !== session) return;
        this.sfuSamples.set(sessionId, sample);
        this.updateRemote(sessionId, { quality });
        const report = this.qualityReports.add(sessionId, quality, this.opts.now());
        if (report) this.signaling?.sendData({ case: 'qualityReport', value: { sample: report } });
      } catch {
        // a closing subscription has no stats
      }
    }
    for (const id of this.sfuSamples.keys()) if (!this.remote.has(id)) this.sfuSamples.delete(id);
    const pc = session.publisherConnection();
    if (!pc) return;
    try {
      const { quality, sample } = summarizeUplink((await pc.getStats()).values() as Iterable<StatLike>, this.uplink?.sample, this.opts.now());
      if (this.sfu !== session) return;
      this.uplink = { quality, connection: pc.connectionState, sample };
      this.changed();
    } catch {
      // closing
    }
  }

  /** The user takes the "audio only" offer: the camera goes off (they can turn it on again). */
  async acceptAudioOnly(): Promise<void> {
    if (!this.cameraOff) await this.toggleCamera();
  }

  /** The worst link decides what the user is told; each link's sender adapts on its own. */
  private updateNetwork(adaptations: Adaptation[]) {
    const worst = adaptations.reduce<Adaptation | undefined>((w, a) => (!w || a.state.level > w.state.level ? a : w), undefined);
    const next: NetworkState = {
      video: worst?.video.name ?? 'full',
      weakLocal: adaptations.some((a) => a.weakLocal),
      offerAudioOnly: adaptations.some((a) => a.offerAudioOnly) && !this.cameraOff,
    };
    // Weak: the banner says so for as long as it lasts (CallRoom); recovery is a passing notice.
    if (!next.weakLocal && this.network.weakLocal) this.notify('Your connection recovered; your video quality is coming back.');
    if (JSON.stringify(next) !== JSON.stringify(this.network)) {
      this.network = next;
      this.changed();
    }
  }

  private pollSpeaker() {
    let best: string | undefined;
    let bestLevel = speakingThreshold;
    const own = this.micLevel() / 5; // the meter's curve is steeper than RTP audio levels
    if (own > bestLevel) {
      best = 'self';
      bestLevel = own;
    }
    const levels: [string, () => number][] = [...this.links].map(([id, link]) => [id, () => link.audioLevel()]);
    const sfu = this.sfu;
    if (sfu) for (const { sessionId } of sfu.connections()) levels.push([sessionId, () => sfu.audioLevel(sessionId)]);
    for (const [id, audioLevel] of levels) {
      const level = this.roster.get(id)?.audioMuted ? 0 : audioLevel();
      if (level > bestLevel) {
        best = id;
        bestLevel = level;
      }
    }
    const now = this.opts.now();
    if (best) this.speakerHeldUntil = now + 1_200;
    const next = best ?? (now < this.speakerHeldUntil ? this.activeSpeaker : undefined);
    let changed = next !== this.activeSpeaker;
    this.activeSpeaker = next;
    if (this.sfuMode) {
      const spotlight = nextSpotlight(this.spotlight, [...this.roster.keys()], next === 'self' ? undefined : next, now);
      changed ||= spotlight?.id !== this.spotlight?.id;
      this.spotlight = spotlight;
    }
    if (changed) this.changed();
  }

  // ── Tests and diagnostics ────────────────────────────────────────────────

  /** Drops the signaling socket as a network failure would (the e2e suite uses it through window.__lessoncall). */
  dropSignaling(): void {
    this.signaling?.dropConnection();
  }

  /** New ICE credentials and candidates on every connection; media keeps its transceivers. */
  restartIce(): void {
    for (const l of this.links.values()) l.restartIce();
  }

  /** The peer connections, for diagnostics and the browser tests. */
  peerConnections(): Map<string, RTCPeerConnection> {
    const all = new Map([...this.links].map(([id, l]) => [id, l.pc]));
    // An sfu meeting: one subscription per other publisher, keyed by its session like a mesh link.
    for (const { sessionId, pc } of this.sfu?.connections() ?? []) all.set(sessionId, pc);
    return all;
  }

  /** sfu: our publisher's connection to the room (diagnostics and the browser tests). */
  sfuPublisher(): RTCPeerConnection | undefined {
    return this.sfu?.publisherConnection();
  }

  dispose(): void {
    if (this.disposed) return;
    this.precall.cancel();
    if (isLive(this.state) || this.state.phase === 'joining') this.signaling?.leave();
    this.endCall();
    this.media.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.disposed = true;
    this.listeners.clear();
  }
}

/**
 * The meeting's own answer to "can I join now?": the lobby knows the window (joinableFrom /
 * joinableUntil, computed by the meeting service) before anyone presses Join, so it can count
 * down instead of letting the user run into meeting_not_started.
 */
export function joinWindowProblem(m: MeetingView, nowMs: number): GatewayError | undefined {
  if (m.status === 'cancelled') return new GatewayError('meeting_cancelled', 'the lesson was cancelled');
  if (m.status === 'completed') return new GatewayError('meeting_ended', 'the lesson has ended');
  if (m.joinableFrom && nowMs < m.joinableFrom.getTime()) {
    return new GatewayError('meeting_not_started', 'the lesson has not started yet', {
      retryAfterSeconds: Math.ceil((m.joinableFrom.getTime() - nowMs) / 1000),
    });
  }
  if (m.joinableUntil && nowMs >= m.joinableUntil.getTime()) return new GatewayError('meeting_ended', 'the lesson has ended');
  return undefined;
}

/** Welcome's meeting fields that are set (so a partial meeting does not wipe what REST told us). */
function withoutEmpty(m: NonNullable<Welcome['meeting']>): Partial<MeetingView> {
  const v: Partial<MeetingView> = {};
  if (m.meetingId) v.meetingId = m.meetingId;
  if (m.title) v.title = m.title;
  if (m.tutorName) v.tutorName = m.tutorName;
  if (m.studentName) v.studentName = m.studentName;
  if (m.tutorId) v.tutorId = m.tutorId;
  if (m.studentId) v.studentId = m.studentId;
  if (m.status) v.status = m.status;
  if (m.scheduledStart) v.scheduledStart = new Date(Number(m.scheduledStart.seconds) * 1000);
  if (m.scheduledEnd) v.scheduledEnd = new Date(Number(m.scheduledEnd.seconds) * 1000);
  return v;
}
