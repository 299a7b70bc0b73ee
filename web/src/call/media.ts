/**
 * The local camera, microphone and screen. One MediaStream (`stream`) holds the current camera
 * and microphone tracks for the self view; peers take the tracks from here. Turning the camera
 * off stops the device (its light goes off), the microphone is muted by disabling its track.
 */
import { MediaAccessError, mediaErrorFrom } from './errors';

export interface DeviceOption {
  deviceId: string;
  label: string;
}

export interface Devices {
  cameras: DeviceOption[];
  microphones: DeviceOption[];
  /** Audio outputs (for setSinkId); Safari before 18.4 lists none. */
  speakers: DeviceOption[];
}

export interface LocalMediaSnapshot {
  stream: MediaStream;
  audioTrack: MediaStreamTrack | undefined;
  videoTrack: MediaStreamTrack | undefined;
  screenTrack: MediaStreamTrack | undefined;
  /** The screen share has sound (the tab's audio), mixed into what the peers hear. */
  screenAudio: boolean;
  audioError: MediaAccessError | undefined;
  videoError: MediaAccessError | undefined;
  cameraDeviceId: string | undefined;
  microphoneDeviceId: string | undefined;
  devices: Devices;
}

const videoConstraints: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
const audioConstraints: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export class LocalMedia {
  readonly stream: MediaStream;
  private audio: MediaStreamTrack | undefined;
  private video: MediaStreamTrack | undefined;
  private screen: MediaStreamTrack | undefined;
  /** The shared tab's sound, while a share has it. */
  private screenAudio: MediaStreamTrack | undefined;
  private audioError: MediaAccessError | undefined;
  private videoError: MediaAccessError | undefined;
  private cameraId: string | undefined;
  private micId: string | undefined;
  private devices: Devices = { cameras: [], microphones: [], speakers: [] };
  /** After close(), a getUserMedia that was still pending must not leave a camera running. */
  private closed = false;
  private readonly md: MediaDevices | undefined;
  private readonly onDeviceChange = () => {
    const before = this.devices;
    void this.refreshDevices().then(() => this.devicesChanged?.(before, this.devices));
  };

  constructor(
    private readonly changed: () => void,
    mediaDevices: MediaDevices | undefined = globalThis.navigator?.mediaDevices,
    /** After a `devicechange` (a device plugged or unplugged), with the lists before and after. */
    private readonly devicesChanged?: (before: Devices, after: Devices) => void,
  ) {
    this.md = mediaDevices;
    this.stream = new MediaStream();
    this.md?.addEventListener?.('devicechange', this.onDeviceChange);
  }

  snapshot(): LocalMediaSnapshot {
    return {
      stream: this.stream,
      audioTrack: this.audio,
      videoTrack: this.video,
      screenTrack: this.screen,
      screenAudio: !!this.screenAudio,
      audioError: this.audioError,
      videoError: this.videoError,
      cameraDeviceId: this.cameraId,
      microphoneDeviceId: this.micId,
      devices: this.devices,
    };
  }

  /**
   * Asks for camera and microphone together (one permission prompt), and when that fails, for
   * each alone, so that a blocked camera still leaves a working microphone and says which one
   * failed.
   */
  async start(want: { audio: boolean; video: boolean }): Promise<void> {
    if (!this.md?.getUserMedia) {
      const err = mediaErrorFrom(new TypeError('mediaDevices unavailable'), 'camera+microphone');
      if (want.audio) this.audioError = new MediaAccessError(err.code, 'microphone', { cause: err });
      if (want.video) this.videoError = new MediaAccessError(err.code, 'camera', { cause: err });
      this.changed();
      return;
    }
    const audio = want.audio && !this.audio;
    const video = want.video && !this.video;
    if (audio && video) {
      try {
        const s = await this.md.getUserMedia({ audio: this.audioConstraints(), video: this.videoConstraints() });
        this.setTrack('audio', s.getAudioTracks()[0]);
        this.setTrack('video', s.getVideoTracks()[0]);
        this.audioError = undefined;
        this.videoError = undefined;
      } catch {
        await Promise.all([this.acquire('audio'), this.acquire('video')]);
      }
    } else if (audio) {
      await this.acquire('audio');
    } else if (video) {
      await this.acquire('video');
    }
    await this.refreshDevices();
    this.changed();
  }

  /** Retries what failed (after the user fixed a permission or closed another app). */
  async retry(): Promise<void> {
    await this.start({ audio: !this.audio, video: !this.video });
  }

  private audioConstraints(): MediaTrackConstraints {
    return { ...audioConstraints, ...(this.micId ? { deviceId: { exact: this.micId } } : {}) };
  }

  private videoConstraints(): MediaTrackConstraints {
    return { ...videoConstraints, ...(this.cameraId ? { deviceId: { exact: this.cameraId } } : {}) };
  }

  private async acquire(kind: 'audio' | 'video'): Promise<MediaStreamTrack | undefined> {
    try {
      const s = await this.md!.getUserMedia(kind === 'audio' ? { audio: this.audioConstraints() } : { video: this.videoConstraints() });
      const track = kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0];
      this.setTrack(kind, track);
      if (kind === 'audio') this.audioError = undefined;
      else this.videoError = undefined;
      return track;
    } catch (err) {
      const e = mediaErrorFrom(err, kind === 'audio' ? 'microphone' : 'camera');
      if (kind === 'audio') this.audioError = e;
      else this.videoError = e;
      return undefined;
    }
  }

  private setTrack(kind: 'audio' | 'video', track: MediaStreamTrack | undefined) {
    if (this.closed && track) {
      track.stop();
      return;
    }
    const old = kind === 'audio' ? this.audio : this.video;
    if (old && old !== track) {
      this.stream.removeTrack(old);
      old.stop();
    }
    if (track) {
      this.stream.addTrack(track);
      const id = track.getSettings().deviceId;
      if (kind === 'audio') this.micId = id ?? this.micId;
      else this.cameraId = id ?? this.cameraId;
      track.addEventListener('ended', () => {
        // Unplugged or revoked: forget it so the UI shows the camera/mic as off.
        if ((kind === 'audio' ? this.audio : this.video) !== track) return;
        this.stream.removeTrack(track);
        if (kind === 'audio') this.audio = undefined;
        else this.video = undefined;
        this.changed();
      });
    }
    if (kind === 'audio') this.audio = track;
    else this.video = track;
  }

  /** Camera on (asks the device again) or off (stops it). Returns the new camera track or undefined. */
  async setCameraOn(on: boolean): Promise<MediaStreamTrack | undefined> {
    if (!on) {
      this.setTrack('video', undefined);
      this.changed();
      return undefined;
    }
    if (!this.video) await this.acquire('video');
    this.changed();
    return this.video;
  }

  /** Mutes by disabling the track: instant, and the device stays ready. */
  setMicMuted(muted: boolean): void {
    if (this.audio) this.audio.enabled = !muted;
    this.changed();
  }

  async selectCamera(deviceId: string): Promise<MediaStreamTrack | undefined> {
    this.cameraId = deviceId;
    if (!this.video) {
      this.changed();
      return undefined;
    }
    const enabled = this.video.enabled;
    await this.acquire('video');
    if (this.video) this.video.enabled = enabled;
    this.changed();
    return this.video;
  }

  /** Switches to this device (undefined: the system default) even when the old one is gone (unplugged). */
  async switchDevice(kind: 'audio' | 'video', deviceId: string | undefined): Promise<MediaStreamTrack | undefined> {
    if (kind === 'audio') this.micId = deviceId;
    else this.cameraId = deviceId;
    const enabled = (kind === 'audio' ? this.audio : this.video)?.enabled ?? true;
    const track = await this.acquire(kind);
    if (track) track.enabled = enabled;
    this.changed();
    return track;
  }

  async selectMicrophone(deviceId: string): Promise<MediaStreamTrack | undefined> {
    this.micId = deviceId;
    const enabled = this.audio?.enabled ?? true;
    await this.acquire('audio');
    if (this.audio) this.audio.enabled = enabled;
    this.changed();
    return this.audio;
  }

  /** Starts a screen capture; `ended` fires when the user stops it from the browser's own bar. Throws MediaAccessError. */
  async startScreen(ended: () => void): Promise<{ video: MediaStreamTrack; audio: MediaStreamTrack | undefined }> {
    if (!this.md?.getDisplayMedia) throw new MediaAccessError('media_failed', 'screen');
    let s: MediaStream;
    try {
      // audio: the tab's sound where the browser offers it (Chromium: a tab, or the whole system on
      // Windows/ChromeOS, if the user ticks "share audio"); Firefox and Safari give none.
      // Asked only where display audio exists (Chromium lists its display-audio constraint):
      // Firefox 153 with audio requested stops decoding after an ICE restart in the browser suite.
      const audio = 'suppressLocalAudioPlayback' in (this.md.getSupportedConstraints?.() ?? {});
      s = await this.md.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio });
    } catch (err) {
      throw mediaErrorFrom(err, 'screen');
    }
    const track = s.getVideoTracks()[0];
    const audio = s.getAudioTracks()[0];
    if (!track) throw new MediaAccessError('media_failed', 'screen');
    if (this.closed) {
      for (const t of s.getTracks()) t.stop();
      throw new MediaAccessError('media_failed', 'screen');
    }
    // Text and slides: keep resolution, drop frames first.
    track.contentHint = 'detail';
    track.addEventListener('ended', () => {
      if (this.screen === track) {
        this.screen = undefined;
        this.screenAudio?.stop();
        this.screenAudio = undefined;
        ended();
        this.changed();
      }
    });
    this.screen = track;
    this.screenAudio = audio;
    this.changed();
    return { video: track, audio };
  }

  stopScreen(): void {
    this.screen?.stop();
    this.screenAudio?.stop();
    this.screen = undefined;
    this.screenAudio = undefined;
    this.changed();
  }

  async refreshDevices(): Promise<void> {
    if (!this.md?.enumerateDevices) return;
    const list = await this.md.enumerateDevices().catch(() => [] as MediaDeviceInfo[]);
    const pick = (kind: MediaDeviceKind, noun: string) =>
      list.filter((d) => d.kind === kind && d.deviceId).map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${noun} ${i + 1}` }));
    this.devices = { cameras: pick('videoinput', 'Camera'), microphones: pick('audioinput', 'Microphone'), speakers: pick('audiooutput', 'Speaker') };
    this.changed();
  }

  /** Stops every device (the call is over); start() can acquire them again. */
  stop(): void {
    for (const t of [this.audio, this.video, this.screen, this.screenAudio]) t?.stop();
    for (const t of this.stream.getTracks()) this.stream.removeTrack(t);
    this.audio = undefined;
    this.video = undefined;
    this.screen = undefined;
    this.screenAudio = undefined;
  }

  /** For good (the page leaves the meeting): stops everything, and whatever a pending request still delivers. */
  close(): void {
    this.closed = true;
    this.md?.removeEventListener?.('devicechange', this.onDeviceChange);
    this.stop();
  }
}

/** Microphone level 0–1 from an AnalyserNode, read on demand (the meter polls it per animation frame). */
export class LevelMeter {
  private readonly ctx: AudioContext;
  private readonly analyser: AnalyserNode;
  private readonly source: MediaStreamAudioSourceNode;
  private readonly data: Float32Array<ArrayBuffer>;

  constructor(track: MediaStreamTrack) {
    this.ctx = new AudioContext();
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 512;
    this.data = new Float32Array(this.analyser.fftSize);
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(this.analyser);
  }

  /** Browsers start an AudioContext suspended until the page gets a click or key press. */
  resume(): void {
    if (this.ctx.state === 'suspended') void this.ctx.resume().catch(() => {});
  }

  level(): number {
    this.analyser.getFloatTimeDomainData(this.data);
    let sum = 0;
    for (const v of this.data) sum += v * v;
    const rms = Math.sqrt(sum / this.data.length);
    // Speech sits around 0.02–0.2 RMS; a square-root curve makes quiet speech visible.
    return Math.min(1, Math.sqrt(rms * 5));
  }

  close(): void {
    this.source.disconnect();
    void this.ctx.close().catch(() => {});
  }
}
