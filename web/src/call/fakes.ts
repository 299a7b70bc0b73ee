/**
 * Stand-ins for the browser objects Node does not have (MediaStream, tracks, mediaDevices,
 * RTCPeerConnection), for the unit tests of the call's modules. They keep the state the modules
 * read back (enabled, readyState, descriptions, senders) and nothing more; the app never imports
 * this file.
 */

export class FakeTrack {
  readonly id: string;
  enabled = true;
  readyState: 'live' | 'ended' = 'live';
  contentHint = '';
  private readonly ended: (() => void)[] = [];
  private static next = 1;

  constructor(
    readonly kind: 'audio' | 'video',
    readonly deviceId = 'default',
  ) {
    this.id = `${kind}-${FakeTrack.next++}`;
  }

  get label(): string {
    return `${this.kind} ${this.deviceId}`;
  }

  getSettings(): MediaTrackSettings {
    return { deviceId: this.deviceId };
  }

  stop(): void {
    this.readyState = 'ended';
  }

  addEventListener(type: string, listener: () => void): void {
    if (type === 'ended') this.ended.push(listener);
  }

  /** The device went away (unplugged) or the browser's own bar stopped a capture. */
  end(): void {
    this.readyState = 'ended';
    for (const l of this.ended) l();
  }

  asTrack(): MediaStreamTrack {
    return this as unknown as MediaStreamTrack;
  }
}

export class FakeStream {
  private tracks: MediaStreamTrack[];

  constructor(tracks: MediaStreamTrack[] = []) {
    this.tracks = [...tracks];
  }

  addTrack(t: MediaStreamTrack): void {
    if (!this.tracks.includes(t)) this.tracks.push(t);
  }

  removeTrack(t: MediaStreamTrack): void {
    this.tracks = this.tracks.filter((x) => x !== t);
  }

  getTracks(): MediaStreamTrack[] {
    return [...this.tracks];
  }

  getAudioTracks(): MediaStreamTrack[] {
    return this.tracks.filter((t) => t.kind === 'audio');
  }

  getVideoTracks(): MediaStreamTrack[] {
    return this.tracks.filter((t) => t.kind === 'video');
  }
}

/** The kinds a getUserMedia constraint asks for, and the exact device when one is named. */
function wanted(c: boolean | MediaTrackConstraints | undefined): { device: string } | undefined {
  if (!c) return undefined;
  const id = typeof c === 'object' ? c.deviceId : undefined;
  const exact = typeof id === 'object' && !Array.isArray(id) ? id.exact : undefined;
  return { device: typeof exact === 'string' ? exact : 'default' };
}

/** navigator.mediaDevices with a camera and a microphone; a kind can be blocked, devices plugged and unplugged. */
export class FakeMediaDevices {
  /** Every track handed out, newest last. */
  readonly issued: FakeTrack[] = [];
  blocked = new Set<'audio' | 'video'>();
  devices: { kind: MediaDeviceKind; deviceId: string; label: string }[] = [
    { kind: 'videoinput', deviceId: 'default', label: 'Camera' },
    { kind: 'audioinput', deviceId: 'default', label: 'Microphone' },
  ];
  /** getDisplayMedia's answer: a screen track, or the error of a cancelled picker. */
  screen: (() => FakeTrack) | Error = () => new FakeTrack('video', 'screen');
  private readonly listeners: (() => void)[] = [];

  async getUserMedia(c: MediaStreamConstraints): Promise<MediaStream> {
    const out: MediaStreamTrack[] = [];
    for (const kind of ['audio', 'video'] as const) {
      const w = wanted(c[kind]);
      if (!w) continue;
      if (this.blocked.has(kind)) throw Object.assign(new Error('Permission denied'), { name: 'NotAllowedError' });
      const track = new FakeTrack(kind, w.device);
      this.issued.push(track);
      out.push(track.asTrack());
    }
    return new FakeStream(out) as unknown as MediaStream;
  }

  async getDisplayMedia(): Promise<MediaStream> {
    if (this.screen instanceof Error) throw this.screen;
    const track = this.screen();
    this.issued.push(track);
    return new FakeStream([track.asTrack()]) as unknown as MediaStream;
  }

  getSupportedConstraints(): MediaTrackSupportedConstraints {
    return {};
  }

  async enumerateDevices(): Promise<MediaDeviceInfo[]> {
    return this.devices.map((d) => ({ ...d, groupId: '', toJSON: () => d }));
  }

  addEventListener(type: string, listener: () => void): void {
    if (type === 'devicechange') this.listeners.push(listener);
  }

  removeEventListener(): void {}

  /** The OS reports a device plugged or unplugged. */
  change(devices: FakeMediaDevices['devices']): void {
    this.devices = devices;
    for (const l of this.listeners) l();
  }

  latest(kind: 'audio' | 'video'): FakeTrack | undefined {
    return this.issued.filter((t) => t.kind === kind).at(-1);
  }

  asMediaDevices(): MediaDevices {
    return this as unknown as MediaDevices;
  }
}

interface FakeSender {
  track: MediaStreamTrack | null;
  replaceTrack(t: MediaStreamTrack | null): Promise<void>;
  setStreams(): void;
}

interface FakeTransceiver {
  mid: string | null;
  direction: RTCRtpTransceiverDirection;
  currentDirection: RTCRtpTransceiverDirection | null;
  sender: FakeSender;
  receiver: { track: { kind: string }; getSynchronizationSources(): { audioLevel: number }[] };
}

/**
 * An RTCPeerConnection that negotiates with nobody: setLocalDescription makes an offer or an
 * answer, state changes are driven by the test (`setState`), and what it was asked is kept.
 */
export class FakePeerConnection {
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((e: { candidate: RTCIceCandidate | null }) => void) | null = null;
  ontrack: ((e: { track: MediaStreamTrack }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  connectionState: RTCPeerConnectionState = 'new';
  signalingState: RTCSignalingState = 'stable';
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  closed = false;
  iceRestarts = 0;
  /** RTP audio level the other side's audio arrives with. */
  audioLevel = 0;
  readonly transceivers: FakeTransceiver[] = [];

  constructor(public config: RTCConfiguration) {}

  private transceiver(kind: string, track: MediaStreamTrack | null): FakeTransceiver {
    const sender: FakeSender = {
      track,
      replaceTrack: async (t) => {
        sender.track = t;
      },
      setStreams: () => {},
    };
    const t: FakeTransceiver = {
      mid: null,
      direction: 'sendrecv',
      currentDirection: null,
      sender,
      receiver: { track: { kind }, getSynchronizationSources: () => (kind === 'audio' ? [{ audioLevel: this.audioLevel }] : []) },
    };
    this.transceivers.push(t);
    return t;
  }

  addTrack(track: MediaStreamTrack): FakeSender {
    return this.transceiver(track.kind, track).sender;
  }

  addTransceiver(kind: string): FakeTransceiver {
    return this.transceiver(kind, null);
  }

  getTransceivers(): FakeTransceiver[] {
    return this.transceivers;
  }

  getSenders(): FakeSender[] {
    return this.transceivers.map((t) => t.sender);
  }

  createDataChannel(): RTCDataChannel {
    return { readyState: 'connecting', send() {}, close() {} } as unknown as RTCDataChannel;
  }

  async setLocalDescription(): Promise<void> {
    const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
    this.localDescription = { type, sdp: `${type} sdp` };
    this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.remoteDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
    if (d.type === 'offer') {
      // The offer's m-lines: one audio and one video transceiver, associated.
      for (const kind of ['audio', 'video']) {
        const t = this.transceivers.find((x) => x.receiver.track.kind === kind) ?? this.transceiver(kind, null);
        t.mid = kind;
      }
    }
  }

  async addIceCandidate(): Promise<void> {}

  restartIce(): void {
    this.iceRestarts++;
  }

  getConfiguration(): RTCConfiguration {
    return this.config;
  }

  setConfiguration(config: RTCConfiguration): void {
    this.config = config;
  }

  async getStats(): Promise<Map<string, unknown>> {
    return new Map();
  }

  close(): void {
    this.closed = true;
    this.connectionState = 'closed';
  }

  /** The ICE/DTLS state moves (as the browser would report it). */
  setState(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }

  /** A remote track arrives. */
  receive(kind: 'audio' | 'video'): void {
    this.ontrack?.({ track: new FakeTrack(kind).asTrack() });
  }

  asPeerConnection(): RTCPeerConnection {
    return this as unknown as RTCPeerConnection;
  }
}
