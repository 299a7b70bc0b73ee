/**
 * One call, from the lobby to the end: the state machine (state.ts), the signaling socket and
 * the roster, wired to the parts that do the media — what we publish (local-participant.ts), the
 * peer connections of a p2p meeting (mesh.ts) or the Janus room of an sfu one (sfu.ts), and who
 * is speaking (speaker.ts) — and the immutable snapshot of all of it that the React components
 * render (useSyncExternalStore). Nothing here knows about React.
 */
import type { LessonRecord, SfuAccess, Welcome } from '@lessoncall/proto';
import { type Adaptation, calmNetwork, type NetworkState, networkState } from './adaptation';
import type { GatewayApi } from './api';
import type { Auth } from './auth';
import { BoardHub } from './board';
import { ChatStore } from './chat';
import { canPickSpeaker } from './devices';
import { describeError, describeMeetingEnd, describePeerLeft, GatewayError } from './errors';
import { browserOf, FirstMediaWatch, type JoinReport, JoinReporter, reasonForJoinError } from './join-report';
import { resumeVideoEvent, type ResumeReason, watchPageLifecycle } from './lifecycle';
import { LocalParticipant, type LocalView } from './local-participant';
import { mark } from './marks';
import { type MeetingLoad, MeetingInfo } from './meeting-info';
import { type Notice, Notices } from './notices';
import { PeerMesh } from './mesh';
import { PrecallCheck } from './precall-check';
import { loopbackCall, probeRelay } from './precall-probe';
import { type MeetingView, type ParticipantView, participantView, rtcIceServers, type ServerMessage, type UserType } from './protocol';
import { QualityReporter } from './quality-report';
import { CredentialRenewal } from './renewal';
import { Roster } from './roster';
import type { VideoWanted } from './sfu';
import { SfuRoom } from './sfu-room';
import { SignalingClient, type SignalingClosed, type WebSocketFactory } from './signaling';
import { SpeakerDetector } from './speaker';
import { type CallEvent, type CallState, initialCallState, isLive, transition } from './state';
import type { PeerQuality, UplinkQuality } from './stats';
import { TutorControls, type TutorControlsSnapshot } from './tutor-controls';

export type { MeetingLoad };

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

export type { Notice };

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
  local: LocalView;
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

export type { NetworkState };

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

const userTypeOf = (welcome: Welcome): UserType => (welcome.userType === 'tutor' ? 'tutor' : 'student');

export class CallController {
  private readonly opts: Required<Omit<CallOptions, 'createSocket' | 'mediaDevices'>> & Pick<CallOptions, 'createSocket' | 'mediaDevices'>;
  private state: CallState = initialCallState;
  /** The lesson's details and whether it can be joined now (meeting-info.ts). */
  private readonly info: MeetingInfo;
  private displayName = '';
  private signaling: SignalingClient | undefined;
  private iceServers: RTCIceServer[] = [];
  /** Who else is in the meeting (roster.ts). */
  private readonly roster = new Roster();
  /** What we publish: camera, microphone, screen, mute (local-participant.ts). */
  private readonly local: LocalParticipant;
  /** One peer connection per other session (mesh.ts), in a p2p meeting. */
  private readonly mesh: PeerMesh;
  private readonly speaker = new SpeakerDetector();
  /** An sfu meeting (the welcome says so): media goes through the Janus room, not the mesh's links. */
  private sfuMode = false;
  /** The Janus room of an sfu meeting (sfu-room.ts). */
  private readonly sfu: SfuRoom;
  private readonly notices = new Notices(() => this.changed());
  private signalingRttMs: number | undefined;
  /** Call quality for the lesson record, one sample per peer every 10 s and at the end. */
  private readonly qualityReports = new QualityReporter();
  private network: NetworkState = calmNetwork;
  private timers: ReturnType<typeof setInterval>[] = [];
  /** The join service level: how long until the other participant's media, as the gateway is told. */
  private readonly reporter = new JoinReporter(
    (report) => void this.sendJoinReport(report),
    () => globalThis.performance?.now() ?? Date.now(),
    browserOf(globalThis.navigator?.userAgent ?? ''),
  );
  private readonly firstMedia: FirstMediaWatch;
  /** Fresh TURN credentials before they expire (renewal.ts). */
  private readonly renewal = new CredentialRenewal(() => {
    if (this.state.phase !== 'in-call' || !this.signaling) return false;
    this.signaling.dropConnection();
    return true;
  });
  private readonly listeners = new Set<() => void>();
  private snapshotValue: CallSnapshot;
  private dirty = false;
  private disposed = false;
  /** The call's chat (web/src/call/chat.ts); its panel subscribes to it directly. */
  readonly chat = new ChatStore({ send: (requestId, clientMessageId, text) => this.signaling?.chat(requestId, clientMessageId, text) });
  private readonly tutor = new TutorControls({ notify: (text) => this.notify(text), changed: () => this.changed() });
  /** The lobby's connection check (precall-check.ts); its panel subscribes to it directly. Join cancels it. */
  readonly precall = new PrecallCheck({
    credentials: async () => this.opts.api.precallIceServers(this.opts.meetingId, this.info.passcode ?? '', await this.opts.auth.accessToken()),
    tracks: () => {
      const local = this.local.view();
      return { audio: local.audioTrack, video: local.videoTrack, cameraOff: this.local.cameraOff };
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
    this.info = new MeetingInfo({
      passcode: options.passcode,
      fetch: async (passcode) => this.opts.api.getMeeting(this.opts.meetingId, passcode, await this.opts.auth.accessToken()),
      userId: () => this.opts.auth.user()?.userId,
      now: this.opts.now,
      changed: () => this.changed(),
    });
    this.displayName = options.auth.user()?.displayName ?? '';
    this.firstMedia = new FirstMediaWatch(this.reporter, this.opts.forceRelay);
    this.mesh = new PeerMesh({
      selfSessionId: () => this.ownSessionId ?? '',
      forceRelay: this.opts.forceRelay,
      offerFallbackMs: this.opts.offerFallbackMs,
      local: () => this.local.tracks(),
      screenSharing: () => this.local.screenSharing,
      live: () => isLive(this.state),
      now: this.opts.now,
      events: {
        signal: (to, signal) => this.signaling?.signal(to, signal),
        changed: () => this.changed(),
        created: (sessionId, pc) => {
          // Arrivals after ours called peerPresent() on peerJoined already; anyone else was here first.
          this.reporter.peerPresent(true);
          this.firstMedia.watch(pc, () => this.mesh.connection(sessionId) === pc);
        },
        dropped: (sessionId) => this.speaker.forget(sessionId),
        screenShareStarted: (sessionId) => this.notify(`${this.nameOf(sessionId)} is sharing their screen`),
        log: (message, error) => this.opts.log(message, error),
      },
    });
    this.sfu = new SfuRoom({
      forceRelay: this.opts.forceRelay,
      iceServers: () => this.iceServers,
      local: () => this.local.tracks(),
      live: () => isLive(this.state),
      now: this.opts.now,
      events: {
        changed: () => this.changed(),
        media: () => this.reporter.media(false),
        refresh: () => this.signaling?.sendData({ case: 'sfuRefresh', value: {} }),
        notify: (text) => this.notify(text),
        log: (message, error) => this.opts.log(message, error),
      },
    });
    this.local = new LocalParticipant({
      mediaDevices: options.mediaDevices,
      mesh: this.mesh,
      sfu: this.sfu,
      notify: (text) => this.notify(text),
      changed: () => this.changed(),
    });
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
    const announced = this.local.announced();
    const peers: RemotePeer[] = this.roster.list().map((p) => {
      const r = this.mesh.tile(p.sessionId) ?? this.sfu.tile(p.sessionId);
      return { participant: p, stream: r?.stream, connection: r?.connection ?? 'new', quality: r?.quality, screenSharing: r?.screenSharing ?? false };
    });
    return {
      call: this.state,
      meetingId: this.opts.meetingId,
      passcode: this.info.passcode,
      forceRelay: this.opts.forceRelay,
      meeting: this.info.meeting,
      meetingLoad: this.info.load,
      presentInLobby: this.info.presentInLobby,
      self: {
        userId: this.opts.auth.user()?.userId,
        displayName: this.displayName,
        userType: isLive(this.state) ? this.state.userType : undefined,
        sessionId: this.ownSessionId,
        audioMuted: announced.audioMuted,
        cameraOff: announced.cameraOff,
        screenSharing: this.local.screenSharing,
        mutedByOther: this.local.mutedByOther,
      },
      local: this.local.view(),
      peers,
      activeSpeaker: this.speaker.active,
      sfu: this.sfuMode,
      spotlight: this.speaker.spotlight,
      uplink: this.sfu.uplink,
      notices: this.notices.current,
      signalingRttMs: this.signalingRttMs,
      network: this.network,
      speakerId: this.local.speakerId,
      canPickSpeaker: canPickSpeaker(),
      tutor: this.tutor.snapshot(),
    };
  }

  /** Our session while we are in the call: the state machine holds it (from the welcome), nothing beside it. */
  private get ownSessionId(): string | undefined {
    return isLive(this.state) ? this.state.sessionId : undefined;
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
    this.notices.add(text);
  }

  // ── Lobby ────────────────────────────────────────────────────────────────

  /** Opens the lobby: camera and microphone preview, and the lesson's details. */
  async openLobby(): Promise<void> {
    this.dispatch({ type: 'open-lobby' });
    await Promise.all([this.local.start(), this.loadMeeting()]);
  }

  async retryMedia(): Promise<void> {
    await this.local.retry();
  }

  /** Microphone level 0–1 for the lobby meter (polled per animation frame by the component). */
  micLevel(): number {
    return this.local.micLevel();
  }

  /** Called on a user gesture: audio contexts may only start after one. */
  userGesture(): void {
    this.local.userGesture();
  }

  setDisplayName(name: string): void {
    this.displayName = name.slice(0, 80);
    this.changed();
  }

  setPasscode(passcode: string): void {
    this.info.setPasscode(passcode);
    this.dispatch({ type: 'dismiss-error' });
  }

  async loadMeeting(): Promise<void> {
    await this.info.reload();
  }

  /** Lobby toggles: what the call starts with. */
  async setJoinMicMuted(muted: boolean): Promise<void> {
    if (isLive(this.state)) return this.toggleMic();
    this.local.setMuted(muted);
  }

  async setJoinCameraOff(off: boolean): Promise<void> {
    if (isLive(this.state)) return this.toggleCamera();
    await this.local.setJoinCameraOff(off);
  }

  async selectCamera(deviceId: string): Promise<void> {
    await this.local.selectCamera(deviceId);
  }

  /** Remote audio plays on this output (the video elements apply it with setSinkId). */
  selectSpeaker(deviceId: string): void {
    this.local.selectSpeaker(deviceId);
  }

  async selectMicrophone(deviceId: string): Promise<void> {
    await this.local.selectMicrophone(deviceId);
  }

  // ── Joining and the call ─────────────────────────────────────────────────

  async join(): Promise<void> {
    if (!this.dispatch({ type: 'join' })) return;
    // The check's loopback call would compete with the lesson for the uplink.
    this.precall.cancel();
    mark('join');
    this.reporter.joinClicked();
    this.local.resetMutedByOther();
    this.tutor.reset();
    // The lobby keeps Join disabled while devices settle; a programmatic join waits here instead.
    await this.local.settled();
    if (this.state.phase !== 'joining') return; // left while waiting
    const signaling = new SignalingClient(
      {
        url: this.opts.wsUrl,
        hello: async () => ({
          accessToken: await this.opts.auth.accessToken(),
          meetingId: this.opts.meetingId,
          passcode: this.info.passcode ?? '',
          displayName: this.displayName.trim() || (this.opts.auth.user()?.displayName ?? ''),
          ...this.local.announced(),
        }),
        ...(this.opts.createSocket ? { createSocket: this.opts.createSocket } : {}),
      },
      {
        message: (m) => this.onMessage(m),
        signalGap: (from) => this.mesh.restartIce(from),
        reconnecting: (attempt) => {
          if (this.renewal.isRenewal(attempt)) return;
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
      if (err instanceof GatewayError && err.code === 'meeting_not_started') this.info.notStarted(err);
      this.dispatch({ type: 'join-rejected', error });
      return;
    }
    if (this.state.phase !== 'joining') {
      signaling.leave(); // left while the hello was in flight
      return;
    }
    mark('welcome');
    this.dispatch({ type: 'welcome', sessionId: welcome.sessionId, userType: userTypeOf(welcome) });
    this.applyWelcome(welcome, false);
    this.startLoops();
  }

  /** The roster and ICE servers of a welcome; offers to everyone we have no connection with. */
  private applyWelcome(welcome: Welcome, resumed: boolean) {
    this.chat.setSelf(welcome.sessionId, this.opts.auth.user()?.userId);
    this.board.welcome();
    this.iceServers = rtcIceServers(welcome.iceServers);
    this.info.welcome(welcome.meeting);
    // The room's access follows the welcome (sfu_access); until then nobody is connected to.
    this.sfuMode = welcome.meeting?.mediaMode === 'sfu';
    const others = welcome.participants.map(participantView).filter((p) => p.sessionId !== welcome.sessionId);
    const me = welcome.participants.find((p) => p.sessionId === welcome.sessionId);
    if (me) {
      // The server's view of our mute state wins (the tutor may have muted us while we were away).
      if (me.isMuted && !this.local.audioMuted) this.local.setMuted(true);
    }
    if (!resumed) {
      this.mesh.dropAll();
      this.mesh.setIceServers(this.iceServers);
      this.roster.clear();
    } else {
      this.mesh.setIceServers(this.iceServers);
      for (const id of this.roster.goneFrom(others)) this.dropPeer(id);
    }
    for (const p of others) {
      this.roster.put(p);
      if (!this.sfuMode) this.mesh.connect(p.sessionId);
    }
    this.renewal.schedule(welcome.iceTtlSeconds);
    this.changed();
  }

  private onRejoined(welcome: Welcome) {
    const wasRenewing = this.renewal.welcomed();
    this.dispatch({ type: 'welcome', sessionId: welcome.sessionId, userType: userTypeOf(welcome) });
    this.applyWelcome(welcome, welcome.resumed);
    if (wasRenewing) {
      // Fresh TURN credentials: move relayed connections onto allocations made with them.
      this.mesh.restartIce();
    }
  }

  private async sendJoinReport(report: JoinReport) {
    try {
      await this.opts.api.reportJoin(this.opts.meetingId, report, await this.opts.auth.accessToken());
    } catch (err) {
      this.opts.log('join report not sent', err);
    }
  }

  /** That session is gone: its connection closed, its tile and its place in the roster removed. */
  private dropPeer(sessionId: string) {
    this.mesh.drop(sessionId);
    this.sfu.drop(sessionId);
    this.roster.remove(sessionId);
    this.speaker.forget(sessionId);
    this.changed();
  }

  private nameOf(sessionId: string) {
    return this.roster.nameOf(sessionId);
  }

  private onMessage(m: ServerMessage) {
    if (this.tutor.handle(m, { ofUser: (userId) => this.roster.nameOfUser(userId) })) return;
    switch (m.kind.case) {
      case 'signal': {
        const { fromSessionId, signal } = m.kind.value;
        if (!signal || !fromSessionId || !isLive(this.state) || this.sfuMode) return;
        this.mesh.handleSignal(fromSessionId, signal);
        return;
      }
      case 'peerJoined': {
        const p = m.kind.value.participant;
        if (!p || p.sessionId === this.ownSessionId) return;
        mark('peer-joined');
        this.reporter.peerPresent();
        const isNew = this.roster.put(participantView(p));
        if (isNew) this.notify(`${this.nameOf(p.sessionId)} joined`);
        // sfu: their media comes from the room when they publish (the SfuSession subscribes).
        if (!this.sfuMode) this.mesh.expect(p.sessionId);
        this.changed();
        return;
      }
      case 'sfuAccess':
        void this.startSfu(m.kind.value);
        return;
      case 'peerLeft': {
        const p = m.kind.value.participant;
        if (!p) return;
        if (p.sessionId === this.ownSessionId) return;
        const name = this.nameOf(p.sessionId);
        if (this.roster.has(p.sessionId)) this.notify(describePeerLeft(name, m.kind.value.reason));
        this.dropPeer(p.sessionId);
        return;
      }
      case 'muteChanged': {
        const c = m.kind.value;
        if (c.sessionId === this.ownSessionId) {
          const byOther = !!c.byUserId && c.byUserId !== this.opts.auth.user()?.userId;
          if (c.kind === 'audio') {
            if (c.muted && byOther && !this.local.audioMuted) {
              this.local.setMuted(true, true);
              this.notify('The tutor muted your microphone');
            }
            if (!c.muted) this.tutor.answerUnmute();
          } else if (c.muted && byOther) {
            void this.cameraOffByTutor();
          }
          this.changed();
          return;
        }
        if (this.roster.setMuted(c.sessionId, c.kind, c.muted)) this.changed();
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

  async toggleMic(): Promise<void> {
    const muted = await this.local.toggleMic();
    if (muted === undefined) return;
    if (!muted) this.tutor.answerUnmute();
    if (isLive(this.state)) this.signaling?.setMedia('audio', muted);
  }

  async toggleCamera(): Promise<void> {
    const off = await this.local.toggleCamera();
    if (off === undefined) return;
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
    await this.local.turnCameraOff();
  }

  /** The room's access (after the welcome, and again when the room moved to another node). */
  private async startSfu(access: SfuAccess) {
    if (!isLive(this.state) || !this.sfuMode) {
      this.opts.log('sfu: access ignored', { phase: this.state.phase, sfuMode: this.sfuMode });
      return;
    }
    await this.sfu.join(access);
  }

  /**
   * What the stage shows (sfu): the feeds on the current page and each one's simulcast layer.
   * The room stops sending the video of everyone else. Undefined (a 1:1 lesson's stage): all, at the best layer.
   */
  setStageVideo(wanted: ReadonlyMap<string, VideoWanted> | undefined): void {
    this.sfu.setStageVideo(wanted);
  }

  async toggleScreenShare(): Promise<void> {
    if (!isLive(this.state)) return;
    if (this.local.screenSharing) this.local.stopScreenShare();
    else await this.local.startScreenShare();
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
    if (unmute && (this.local.audioMuted || !this.local.hasMicrophone)) await this.toggleMic();
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
    await Promise.all([this.local.start(), this.loadMeeting()]);
  }

  private endCall() {
    this.stopLoops();
    this.reporter.abandon();
    this.firstMedia.stop();
    this.renewal.stop();
    const s = this.signaling;
    this.signaling = undefined;
    s?.close();
    this.mesh.dropAll();
    this.sfu.close();
    this.roster.clear();
    this.speaker.reset();
    // The camera light goes off when the call is over.
    this.local.stop();
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
    this.mesh.restartIceUnlessConnected();
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
    const adaptations = await this.mesh.pollQuality((sessionId, quality) => this.reportQuality(sessionId, quality));
    this.updateNetwork(adaptations);
    await this.sfu.pollQuality((sessionId, quality) => this.reportQuality(sessionId, quality));
  }

  /** One sample per peer every 10 s into the lesson record. */
  private reportQuality(sessionId: string, quality: PeerQuality) {
    const sample = this.qualityReports.add(sessionId, quality, this.opts.now());
    if (sample) this.signaling?.sendData({ case: 'qualityReport', value: { sample } });
  }

  /** The user takes the "audio only" offer: the camera goes off (they can turn it on again). */
  async acceptAudioOnly(): Promise<void> {
    if (!this.local.cameraOff) await this.toggleCamera();
  }

  private updateNetwork(adaptations: Adaptation[]) {
    const next = networkState(adaptations, this.local.cameraOff);
    // Weak: the banner says so for as long as it lasts (CallRoom); recovery is a passing notice.
    if (!next.weakLocal && this.network.weakLocal) this.notify('Your connection recovered; your video quality is coming back.');
    if (JSON.stringify(next) !== JSON.stringify(this.network)) {
      this.network = next;
      this.changed();
    }
  }

  private pollSpeaker() {
    const changed = this.speaker.poll({
      own: this.local.micLevel(),
      remote: [...this.mesh.audioLevels(), ...this.sfu.audioLevels()],
      muted: (sessionId) => !!this.roster.get(sessionId)?.audioMuted,
      stage: this.sfuMode ? this.roster.sessionIds() : undefined,
      now: this.opts.now(),
    });
    if (changed) this.changed();
  }

  // ── Tests and diagnostics ────────────────────────────────────────────────

  /** Drops the signaling socket as a network failure would (the e2e suite uses it through window.__lessoncall). */
  dropSignaling(): void {
    this.signaling?.dropConnection();
  }

  /** New ICE credentials and candidates on every connection; media keeps its transceivers. */
  restartIce(): void {
    this.mesh.restartIce();
  }

  /** The peer connections, for diagnostics and the browser tests. */
  peerConnections(): Map<string, RTCPeerConnection> {
    return new Map([...this.mesh.connections(), ...this.sfu.connections()]);
  }

  /** sfu: our publisher's connection to the room (diagnostics and the browser tests). */
  sfuPublisher(): RTCPeerConnection | undefined {
    return this.sfu.publisher();
  }

  dispose(): void {
    if (this.disposed) return;
    this.precall.cancel();
    if (isLive(this.state) || this.state.phase === 'joining') this.signaling?.leave();
    this.endCall();
    this.local.close();
    this.info.close();
    this.disposed = true;
    this.listeners.clear();
  }
}
