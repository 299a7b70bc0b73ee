/**
 * What we publish: the camera, microphone and screen (media.ts), mute and camera off, the
 * device we use and the fallback when it is unplugged, the screen's sound mixed with the
 * microphone (audio-mix.ts), and the one track of each kind every connection sends. The
 * connections are the mesh's links and the sfu room's publisher; they get each change with
 * replaceTrack. Telling the server (setMedia) is the controller's part.
 */
import { AudioMix } from './audio-mix';
import { type DeviceLists, describeDeviceChange, deviceChange, fallbackSteps } from './devices';
import { describeError, type UserMessage } from './errors';
import { type Devices, LevelMeter, LocalMedia, type LocalMediaSnapshot } from './media';
import type { LocalTracks, PeerMeta } from './peer';

/** A connection that sends our tracks. */
export interface TrackSink {
  setTrack(kind: 'audio' | 'video', track: MediaStreamTrack | undefined): Promise<void>;
}

export interface LocalParticipantOptions {
  /** Media devices (tests pass fakes); defaults to navigator.mediaDevices. */
  mediaDevices?: MediaDevices | undefined;
  /** The mesh's links: every track, and whether we share our screen (their data channel). */
  mesh: TrackSink & { setMeta(meta: PeerMeta): void };
  /** The sfu room's publisher (nothing to do while there is none). */
  sfu: TrackSink;
  notify(text: string): void;
  changed(): void;
}

export type LocalView = LocalMediaSnapshot & {
  audioMessage: UserMessage | undefined;
  videoMessage: UserMessage | undefined;
  /** A camera/microphone request is in flight: what we would announce is not known yet. */
  settling: boolean;
};

export class LocalParticipant {
  private readonly media: LocalMedia;
  private meter: LevelMeter | undefined;
  private meterTrack: MediaStreamTrack | undefined;
  private muted = false;
  private camOff = false;
  private sharing = false;
  private mutedByOtherFlag = false;
  private speaker: string | undefined;
  /** While a screen share has sound: the mic and the tab's audio, mixed (the one audio sender sends it). */
  private mix: AudioMix | undefined;
  /** Device requests in flight (getUserMedia can take seconds): join waits for them to settle. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly opts: LocalParticipantOptions) {
    this.media = new LocalMedia(
      () => opts.changed(),
      opts.mediaDevices,
      (before, after) => void this.onDevicesChanged(before, after),
    );
  }

  /** The user's mute flag (without a microphone track we are muted whatever it says: see announced()). */
  get audioMuted(): boolean {
    return this.muted;
  }

  get cameraOff(): boolean {
    return this.camOff;
  }

  get screenSharing(): boolean {
    return this.sharing;
  }

  /** Set when someone else (the tutor) muted us. */
  get mutedByOther(): boolean {
    return this.mutedByOtherFlag;
  }

  /** The speaker remote audio plays on (setSinkId); undefined: the system default. */
  get speakerId(): string | undefined {
    return this.speaker;
  }

  get hasMicrophone(): boolean {
    return !!this.media.snapshot().audioTrack;
  }

  view(): LocalView {
    const local = this.media.snapshot();
    return {
      ...local,
      audioMessage: local.audioError ? describeError(local.audioError) : undefined,
      videoMessage: local.videoError ? describeError(local.videoError) : undefined,
      settling: this.pending.size > 0,
    };
  }

  /** What every connection sends: the mix while a share has sound, the screen while sharing, no camera while it is off. */
  tracks(): LocalTracks {
    const m = this.media.snapshot();
    return { audio: this.mix?.track ?? m.audioTrack, video: m.screenTrack ?? (this.camOff ? undefined : m.videoTrack), stream: m.stream };
  }

  /** What we tell the others (hello, the self view): derived from the tracks sent, so the announced state is the state sent. */
  announced(): { audioMuted: boolean; cameraOff: boolean } {
    return { audioMuted: this.muted || !this.tracks().audio, cameraOff: !this.media.snapshot().videoTrack || this.camOff };
  }

  /** The lobby's preview: camera (unless turned off) and microphone. */
  async start(): Promise<void> {
    await this.settle(this.media.start({ audio: true, video: !this.camOff }));
    this.attachMeter();
    this.opts.changed();
  }

  /** Asks again for what failed (after the user fixed a permission or closed another app). */
  async retry(): Promise<void> {
    await this.settle(this.media.retry());
    this.attachMeter();
  }

  /** Resolves once no device request is in flight (including ones started while waiting). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Microphone level 0–1 for the lobby meter (polled per animation frame by the component). */
  micLevel(): number {
    if (!this.meter || this.muted) return 0;
    return this.meter.level();
  }

  /** Called on a user gesture: audio contexts may only start after one. */
  userGesture(): void {
    this.meter?.resume();
  }

  /** Mutes or unmutes the microphone we have (the track is disabled: instant, the device stays ready). */
  setMuted(muted: boolean, byOther = false): void {
    this.muted = muted;
    if (byOther) this.mutedByOtherFlag = true;
    this.media.setMicMuted(muted);
    this.opts.changed();
  }

  /** A new call starts without the tutor's mute of the last one. */
  resetMutedByOther(): void {
    this.mutedByOtherFlag = false;
  }

  /** Lobby: what the call starts with. */
  async setJoinCameraOff(off: boolean): Promise<void> {
    this.camOff = off;
    await this.settle(this.media.setCameraOn(!off));
    this.opts.changed();
  }

  /**
   * The mute button. Without a microphone track we show "muted" whatever the flag says, so a
   * click means "on" and asks for the microphone. The new muted state, or undefined when there
   * is still no microphone (the user was told why).
   */
  async toggleMic(): Promise<boolean | undefined> {
    const muted = !(this.muted || !this.hasMicrophone);
    if (!muted && !this.hasMicrophone) {
      await this.media.start({ audio: true, video: false });
      const track = this.media.snapshot().audioTrack;
      if (!track) {
        const msg = this.media.snapshot().audioError;
        this.opts.notify(msg ? describeError(msg).title : 'Microphone unavailable');
        return undefined;
      }
      this.attachMeter();
      await this.sendAudio(track);
    }
    this.setMuted(muted);
    if (!muted) this.mutedByOtherFlag = false;
    return muted;
  }

  /** The camera button: the new camera-off state, or undefined when the camera could not be turned on (the user was told why). */
  async toggleCamera(): Promise<boolean | undefined> {
    const off = !(this.camOff || !this.media.snapshot().videoTrack);
    const wasOff = this.camOff;
    this.camOff = off;
    const track = await this.media.setCameraOn(!off);
    if (!off && !track) {
      this.camOff = wasOff;
      const err = this.media.snapshot().videoError;
      this.opts.notify(err ? describeError(err).title : 'Camera unavailable');
      this.opts.changed();
      return undefined;
    }
    if (!this.sharing) await this.sendVideo(track);
    this.opts.changed();
    return off;
  }

  /** The tutor turned our camera off (the server already records it off): stop sending video and release the camera. */
  async turnCameraOff(): Promise<void> {
    if (this.camOff) return;
    this.camOff = true;
    await this.media.setCameraOn(false);
    if (!this.sharing) await this.sendVideo(undefined);
    this.opts.changed();
  }

  async selectCamera(deviceId: string): Promise<void> {
    const track = await this.settle(this.media.selectCamera(deviceId));
    if (!this.sharing) await this.sendVideo(track);
  }

  async selectMicrophone(deviceId: string): Promise<void> {
    const track = await this.settle(this.media.selectMicrophone(deviceId));
    if (track) track.enabled = !this.muted;
    this.attachMeter();
    await this.sendAudio(track);
  }

  /** Remote audio plays on this output (the video elements apply it with setSinkId). */
  selectSpeaker(deviceId: string): void {
    this.speaker = deviceId || undefined;
    this.opts.changed();
  }

  /** Starts sharing; the browser's own "stop sharing" bar ends it too. A refused or failed capture is told, a cancelled one is not. */
  async startScreenShare(): Promise<void> {
    let track: MediaStreamTrack;
    let sound: MediaStreamTrack | undefined;
    try {
      ({ video: track, audio: sound } = await this.media.startScreen(() => this.stopScreenShare(false)));
    } catch (err) {
      const msg = describeError(err);
      if (msg.code !== 'screen_cancelled') this.opts.notify(msg.title);
      return;
    }
    this.sharing = true;
    if (sound) {
      // One audio sender: the tab's sound and the microphone mixed, swapped in with replaceTrack.
      this.mix = new AudioMix(this.media.snapshot().audioTrack, sound);
      await this.opts.mesh.setTrack('audio', this.mix.track);
      await this.opts.sfu.setTrack('audio', this.mix.track);
    }
    await this.sendVideo(track);
    this.opts.mesh.setMeta({ screenSharing: true });
    this.opts.changed();
  }

  stopScreenShare(stopTrack = true): void {
    if (!this.sharing) return;
    this.sharing = false;
    if (stopTrack) this.media.stopScreen();
    const mix = this.mix;
    this.mix = undefined;
    if (mix) {
      // Back to the microphone alone, on the mesh links and the sfu publisher alike (the
      // publisher kept the closed mix, silent, until this); the mix is closed once no sender uses it.
      const mic = this.media.snapshot().audioTrack;
      void Promise.allSettled([this.opts.mesh.setTrack('audio', mic), this.opts.sfu.setTrack('audio', mic)]).finally(() => mix.close());
    }
    const camera = this.camOff ? undefined : this.media.snapshot().videoTrack;
    this.opts.changed();
    // Tell the others once the camera is what they receive again.
    void this.sendVideo(camera).finally(() => {
      if (!this.sharing) this.opts.mesh.setMeta({ screenSharing: false });
    });
  }

  /** The call is over: the camera light goes off. */
  stop(): void {
    if (this.sharing) this.stopScreenShare();
    this.meter?.close();
    this.meter = undefined;
    this.meterTrack = undefined;
    this.media.stop();
  }

  /** For good (the page leaves the meeting). */
  close(): void {
    this.media.close();
  }

  /**
   * Tracks a device request until it ends. While one is open, the tracks we would send are not
   * known, and a hello sent then would announce "muted, camera off" for tracks that arrive a
   * moment later (issue 13: an early Join was shown as camera off while its video played).
   */
  private async settle<T>(request: Promise<T>): Promise<T> {
    this.pending.add(request);
    this.opts.changed();
    try {
      return await request;
    } finally {
      this.pending.delete(request);
      this.opts.changed();
    }
  }

  private attachMeter() {
    const track = this.media.snapshot().audioTrack;
    if (track === this.meterTrack) return;
    this.meter?.close();
    this.meter = undefined;
    this.meterTrack = track;
    if (track && typeof AudioContext !== 'undefined') this.meter = new LevelMeter(track);
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
      ...(this.speaker ? { speaker: this.speaker } : {}),
    });
    for (const step of fallbackSteps(change, { cameraOff: this.camOff, screenSharing: this.sharing })) {
      if (step.kind === 'speaker') {
        // The default alias plays on whatever the OS picks now; no id is the same thing.
        this.speaker = undefined;
      } else if (step.kind === 'microphone') {
        const track = await this.settle(this.media.switchDevice('audio', step.deviceId));
        if (track) track.enabled = !this.muted;
        this.attachMeter();
        await this.sendAudio(track);
      } else if (!step.acquire) {
        await this.media.selectCamera(step.deviceId ?? '');
      } else {
        const track = await this.settle(this.media.switchDevice('video', step.deviceId));
        if (step.sendToPeers) await this.sendVideo(track);
      }
    }
    for (const line of describeDeviceChange(change)) this.opts.notify(line);
    this.opts.changed();
  }

  /** The microphone changed: the connections get it, or, while a share has sound, the mix takes it. */
  private async sendAudio(mic: MediaStreamTrack | undefined) {
    if (this.mix) {
      this.mix.setMic(mic);
      return;
    }
    await this.opts.mesh.setTrack('audio', mic);
    await this.opts.sfu.setTrack('audio', mic);
  }

  private async sendVideo(track: MediaStreamTrack | undefined) {
    await this.opts.mesh.setTrack('video', track);
    await this.opts.sfu.setTrack('video', track);
  }
}
