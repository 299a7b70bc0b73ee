import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeMediaDevices, FakeStream, FakeTrack } from './fakes';
import { LocalParticipant } from './local-participant';

/** What the connections were sent, last first per kind. */
function setup(devices = new FakeMediaDevices()) {
  const sent: { kind: 'audio' | 'video'; track: MediaStreamTrack | undefined }[] = [];
  const sfuSent: { kind: 'audio' | 'video'; track: MediaStreamTrack | undefined }[] = [];
  const meta: boolean[] = [];
  const notices: string[] = [];
  const local = new LocalParticipant({
    mediaDevices: devices.asMediaDevices(),
    mesh: {
      setTrack: async (kind, track) => {
        sent.push({ kind, track });
      },
      setMeta: (m) => meta.push(m.screenSharing),
    },
    sfu: {
      setTrack: async (kind, track) => {
        sfuSent.push({ kind, track });
      },
    },
    notify: (text) => notices.push(text),
    changed: () => {},
  });
  const lastSent = (kind: 'audio' | 'video') => sent.filter((s) => s.kind === kind).at(-1)?.track;
  const lastSfuSent = (kind: 'audio' | 'video') => sfuSent.filter((s) => s.kind === kind).at(-1)?.track;
  return { local, devices, sent, meta, notices, lastSent, lastSfuSent };
}

describe('LocalParticipant', () => {
  beforeEach(() => vi.stubGlobal('MediaStream', FakeStream));
  afterEach(() => vi.unstubAllGlobals());

  it('the lobby previews camera and microphone, and announces both on', async () => {
    const { local, devices } = setup();
    await local.start();
    const view = local.view();
    expect(view.videoTrack).toBe(devices.latest('video')?.asTrack());
    expect(view.audioTrack).toBe(devices.latest('audio')?.asTrack());
    expect(view.stream.getTracks()).toHaveLength(2);
    expect(local.announced()).toEqual({ audioMuted: false, cameraOff: false });
  });

  it('muting the mic disables the track and is announced; unmuting enables it again', async () => {
    const { local, devices } = setup();
    await local.start();
    expect(await local.toggleMic()).toBe(true);
    expect(devices.latest('audio')?.enabled).toBe(false);
    expect(local.announced().audioMuted).toBe(true);
    expect(await local.toggleMic()).toBe(false);
    expect(devices.latest('audio')?.enabled).toBe(true);
    expect(local.announced().audioMuted).toBe(false);
  });

  it('a blocked microphone is announced muted; the mute button asks again and says why it failed', async () => {
    const devices = new FakeMediaDevices();
    devices.blocked.add('audio');
    const { local, notices, lastSent } = setup(devices);
    await local.start();
    expect(local.announced()).toEqual({ audioMuted: true, cameraOff: false });
    expect(local.view().audioMessage?.code).toBe('media_blocked');
    expect(await local.toggleMic()).toBeUndefined();
    expect(notices).toHaveLength(1);
    devices.blocked.clear();
    expect(await local.toggleMic()).toBe(false);
    expect(lastSent('audio')).toBe(devices.latest('audio')?.asTrack());
    expect(local.announced().audioMuted).toBe(false);
  });

  it('turning the camera off stops the device and sends no video; on again sends the new camera', async () => {
    const { local, devices, lastSent } = setup();
    await local.start();
    const first = devices.latest('video');
    expect(await local.toggleCamera()).toBe(true);
    expect(first?.readyState).toBe('ended');
    expect(lastSent('video')).toBeUndefined();
    expect(local.tracks().video).toBeUndefined();
    expect(local.announced().cameraOff).toBe(true);
    expect(await local.toggleCamera()).toBe(false);
    expect(devices.latest('video')).not.toBe(first);
    expect(lastSent('video')).toBe(devices.latest('video')?.asTrack());
    expect(local.announced().cameraOff).toBe(false);
  });

  it('a camera that cannot be turned on stays off, and the user is told', async () => {
    const { local, devices, notices } = setup();
    await local.start();
    await local.toggleCamera();
    devices.blocked.add('video');
    expect(await local.toggleCamera()).toBeUndefined();
    expect(local.cameraOff).toBe(true);
    expect(notices).toHaveLength(1);
  });

  it('a microphone picked while muted stays muted, replaces the old one and goes to the peers', async () => {
    const { local, devices, lastSent } = setup();
    await local.start();
    const old = devices.latest('audio');
    await local.toggleMic();
    await local.selectMicrophone('usb-mic');
    const mic = devices.latest('audio');
    expect(mic?.deviceId).toBe('usb-mic');
    expect(mic?.enabled).toBe(false);
    expect(old?.readyState).toBe('ended');
    expect(lastSent('audio')).toBe(mic?.asTrack());
  });

  it('sharing the screen sends it instead of the camera; the browser’s stop bar brings the camera back', async () => {
    const { local, devices, lastSent, meta } = setup();
    await local.start();
    const camera = devices.latest('video');
    await local.startScreenShare();
    const screen = devices.latest('video');
    expect(screen?.deviceId).toBe('screen');
    expect(lastSent('video')).toBe(screen?.asTrack());
    expect(local.tracks().video).toBe(screen?.asTrack());
    expect(meta).toEqual([true]);
    screen?.end();
    await vi.waitFor(() => expect(meta).toEqual([true, false]));
    expect(local.screenSharing).toBe(false);
    expect(lastSent('video')).toBe(camera?.asTrack());
  });

  it('a cancelled screen picker changes nothing and tells nothing', async () => {
    const { local, devices, notices, sent } = setup();
    devices.screen = Object.assign(new Error('cancelled'), { name: 'NotAllowedError' });
    await local.start();
    await local.startScreenShare();
    expect(local.screenSharing).toBe(false);
    expect(notices).toEqual([]);
    expect(sent).toEqual([]);
  });

  it('the tutor turning the camera off during a share keeps the screen going', async () => {
    const { local, devices, lastSent } = setup();
    await local.start();
    const camera = devices.latest('video');
    await local.startScreenShare();
    await local.turnCameraOff();
    expect(camera?.readyState).toBe('ended');
    expect(lastSent('video')).toBe(devices.latest('video')?.asTrack());
    expect(local.announced().cameraOff).toBe(true);
  });

  it('a share with sound sends the mix to the mesh and the sfu publisher, and both get the microphone back when it ends', async () => {
    const mixed = new FakeTrack('audio', 'mix');
    // WebAudio, as far as AudioMix uses it: the destination's track is the mix.
    class FakeAudioContext {
      state = 'running';
      createMediaStreamDestination() {
        return { stream: new FakeStream([mixed.asTrack()]) };
      }
      createMediaStreamSource() {
        return { connect() {}, disconnect() {} };
      }
      // The lobby's level meter.
      createAnalyser() {
        return { fftSize: 0, getFloatTimeDomainData() {}, connect() {}, disconnect() {} };
      }
      async resume() {}
      async close() {}
    }
    vi.stubGlobal('AudioContext', FakeAudioContext);
    const devices = new FakeMediaDevices();
    devices.getSupportedConstraints = () => ({ suppressLocalAudioPlayback: true }) as MediaTrackSupportedConstraints;
    const tabSound = new FakeTrack('audio', 'tab');
    devices.getDisplayMedia = async () => new FakeStream([new FakeTrack('video', 'screen').asTrack(), tabSound.asTrack()]) as unknown as MediaStream;
    const { local, lastSent, lastSfuSent } = setup(devices);
    await local.start();
    const mic = devices.latest('audio')?.asTrack();
    await local.startScreenShare();
    expect([lastSent('audio'), lastSfuSent('audio')]).toEqual([mixed.asTrack(), mixed.asTrack()]);
    local.stopScreenShare();
    await vi.waitFor(() => expect(mixed.readyState).toBe('ended'));
    expect([lastSent('audio'), lastSfuSent('audio')]).toEqual([mic, mic]);
  });

  it('an unplugged microphone falls back to the default one, which the peers get, with a notice', async () => {
    const devices = new FakeMediaDevices();
    devices.devices = [...devices.devices, { kind: 'audioinput', deviceId: 'usb-mic', label: 'USB mic' }];
    const { local, notices, lastSent } = setup(devices);
    await local.start();
    await local.selectMicrophone('usb-mic');
    devices.change(devices.devices.filter((d) => d.deviceId !== 'usb-mic'));
    await vi.waitFor(() => expect(notices).toEqual(['USB mic was disconnected — now using Microphone.']));
    expect(devices.latest('audio')?.deviceId).toBe('default');
    expect(lastSent('audio')).toBe(devices.latest('audio')?.asTrack());
  });

  it('join can wait until a device request in flight has settled (what it announces is then known)', async () => {
    const devices = new FakeMediaDevices();
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const getUserMedia = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (c) => {
      await gate;
      return getUserMedia(c);
    };
    const { local } = setup(devices);
    void local.start();
    expect(local.view().settling).toBe(true);
    let settled = false;
    const waiting = local.settled().then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    release();
    await waiting;
    expect(local.view().settling).toBe(false);
    expect(local.announced()).toEqual({ audioMuted: false, cameraOff: false });
  });

  it('leaving the call stops every device (the camera light goes off)', async () => {
    const { local, devices } = setup();
    await local.start();
    await local.startScreenShare();
    local.stop();
    expect(devices.issued.map((t) => t.readyState)).toEqual(['ended', 'ended', 'ended']);
    expect(local.screenSharing).toBe(false);
    expect(local.view().stream.getTracks()).toEqual([]);
  });
});
