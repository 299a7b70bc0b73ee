/**
 * Screen share with sound: the tab's (or system's) audio and the microphone mixed into one
 * track, so the peers keep the one audio sender (replaceTrack, no renegotiation) and hear both.
 * The microphone's source is swapped when the user picks another microphone mid-share; a muted
 * microphone is a disabled track, which WebAudio reads as silence, so mute still works.
 */
export class AudioMix {
  private readonly ctx: AudioContext;
  private readonly out: MediaStreamAudioDestinationNode;
  private readonly screen: MediaStreamAudioSourceNode;
  private mic: MediaStreamAudioSourceNode | undefined;

  constructor(mic: MediaStreamTrack | undefined, screenAudio: MediaStreamTrack) {
    this.ctx = new AudioContext();
    // Created from the share click, so it may run; resume() covers browsers that start it suspended.
    if (this.ctx.state === 'suspended') void this.ctx.resume().catch(() => {});
    this.out = this.ctx.createMediaStreamDestination();
    this.screen = this.ctx.createMediaStreamSource(new MediaStream([screenAudio]));
    this.screen.connect(this.out);
    this.setMic(mic);
  }

  /** The mixed track the peers receive. */
  get track(): MediaStreamTrack {
    const [t] = this.out.stream.getAudioTracks();
    if (!t) throw new Error('AudioMix: the destination has no track');
    return t;
  }

  setMic(track: MediaStreamTrack | undefined): void {
    this.mic?.disconnect();
    this.mic = track ? this.ctx.createMediaStreamSource(new MediaStream([track])) : undefined;
    this.mic?.connect(this.out);
  }

  close(): void {
    this.mic?.disconnect();
    this.screen.disconnect();
    for (const t of this.out.stream.getTracks()) t.stop();
    void this.ctx.close().catch(() => {});
  }
}
