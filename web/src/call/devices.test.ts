import { describe, expect, it } from 'vitest';
import { canPickSpeaker, type DeviceLists, describeDeviceChange, deviceChange, fallbackSteps } from './devices';

const laptop: DeviceLists = {
  camera: [{ deviceId: 'cam1', label: 'FaceTime HD Camera' }],
  microphone: [
    { deviceId: 'default', label: 'Default - MacBook Microphone' },
    { deviceId: 'mic1', label: 'MacBook Microphone' },
  ],
  speaker: [
    { deviceId: 'default', label: 'Default - MacBook Speakers' },
    { deviceId: 'spk1', label: 'MacBook Speakers' },
  ],
};

const headset = { deviceId: 'hs', label: 'Jabra Evolve' };
const withHeadset: DeviceLists = {
  camera: laptop.camera,
  microphone: [...laptop.microphone, headset],
  speaker: [...laptop.speaker, { deviceId: 'hs-out', label: 'Jabra Evolve' }],
};

describe('deviceChange', () => {
  it('offers a plugged headset (once, by name) without switching to it', () => {
    const c = deviceChange(laptop, withHeadset, { camera: 'cam1', microphone: 'mic1', speaker: 'spk1' });
    expect(c.fallbacks).toEqual([]);
    expect(c.offers.map((o) => o.kind)).toEqual(['microphone', 'speaker']);
    expect(describeDeviceChange(c)).toEqual(['Jabra Evolve connected — pick it under Devices.']);
  });

  it('falls back to the default when the headset in use is unplugged, and says which', () => {
    const c = deviceChange(withHeadset, laptop, { camera: 'cam1', microphone: 'hs', speaker: 'hs-out' });
    expect(c.fallbacks).toEqual([
      { kind: 'microphone', lost: headset, to: { deviceId: 'default', label: 'Default - MacBook Microphone' } },
      { kind: 'speaker', lost: { deviceId: 'hs-out', label: 'Jabra Evolve' }, to: { deviceId: 'default', label: 'Default - MacBook Speakers' } },
    ]);
    expect(describeDeviceChange(c)[0]).toBe('Jabra Evolve was disconnected — now using Default - MacBook Microphone.');
    expect(c.offers).toEqual([]);
  });

  it('falls back to the first device where there is no default alias (Firefox), or to none', () => {
    const ff: DeviceLists = {
      camera: [
        { deviceId: 'a', label: 'USB cam' },
        { deviceId: 'b', label: 'Built-in' },
      ],
      microphone: [],
      speaker: [],
    };
    const c = deviceChange(ff, { ...ff, camera: [{ deviceId: 'b', label: 'Built-in' }] }, { camera: 'a' });
    expect(c.fallbacks).toEqual([{ kind: 'camera', lost: { deviceId: 'a', label: 'USB cam' }, to: { deviceId: 'b', label: 'Built-in' } }]);
    const none = deviceChange(ff, { ...ff, camera: [] }, { camera: 'a' });
    expect(describeDeviceChange(none)).toEqual(['USB cam was disconnected — now using the default camera.']);
  });

  it('does nothing when the list is the same', () => {
    expect(deviceChange(laptop, laptop, { microphone: 'mic1' })).toEqual({ fallbacks: [], offers: [] });
  });
});

describe('canPickSpeaker', () => {
  it('follows setSinkId (absent in Safari before 18.4)', () => {
    expect(canPickSpeaker({ setSinkId() {} })).toBe(true);
    expect(canPickSpeaker({})).toBe(false);
  });
});

describe('fallbackSteps', () => {
  const unplugged = deviceChange({ ...withHeadset, camera: [...laptop.camera, { deviceId: 'usb', label: 'USB cam' }] }, laptop, {
    camera: 'usb',
    microphone: 'hs',
    speaker: 'hs-out',
  });

  it('reopens the default microphone and camera and hands both to the peers; the speaker goes back to the default', () => {
    expect(fallbackSteps(unplugged, { cameraOff: false, screenSharing: false })).toEqual([
      { kind: 'camera', deviceId: 'cam1', acquire: true, sendToPeers: true },
      { kind: 'microphone', deviceId: 'default', acquire: true, sendToPeers: true },
      { kind: 'speaker', deviceId: 'default', acquire: false, sendToPeers: false },
    ]);
  });

  it('does not turn a camera that is off back on, only points it at the default', () => {
    const [camera] = fallbackSteps(unplugged, { cameraOff: true, screenSharing: false });
    expect(camera).toMatchObject({ kind: 'camera', acquire: false, sendToPeers: false });
  });

  it('keeps the screen going to the peers while it is shared', () => {
    const [camera] = fallbackSteps(unplugged, { cameraOff: false, screenSharing: true });
    expect(camera).toMatchObject({ kind: 'camera', acquire: true, sendToPeers: false });
  });
});
