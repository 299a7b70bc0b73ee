/**
 * What to do when the device list changes mid-lesson (`devicechange`): the device in use was
 * unplugged → fall back to the system default and say so; a new microphone or speaker appeared
 * (a headset plugged in) → offer it, without switching by surprise. Pure, so tested with lists.
 */

export type DeviceKind = 'camera' | 'microphone' | 'speaker';

export interface DeviceEntry {
  deviceId: string;
  label: string;
}

export type DeviceLists = Record<DeviceKind, DeviceEntry[]>;

export interface DeviceChange {
  /** The device in use is gone: use the default (`deviceId` undefined) instead. */
  fallbacks: { kind: DeviceKind; lost: DeviceEntry; to: DeviceEntry | undefined }[];
  /** Newly plugged devices worth offering (a headset: its microphone and its speaker). */
  offers: { kind: DeviceKind; device: DeviceEntry }[];
}

/** Chromium lists the OS's "default" and "communications" aliases; they are not new hardware. */
const alias = (d: DeviceEntry) => d.deviceId === 'default' || d.deviceId === 'communications';

export function deviceChange(before: DeviceLists, after: DeviceLists, inUse: Partial<Record<DeviceKind, string>>): DeviceChange {
  const out: DeviceChange = { fallbacks: [], offers: [] };
  for (const kind of ['camera', 'microphone', 'speaker'] as const) {
    const now = after[kind];
    const current = inUse[kind];
    if (current && !now.some((d) => d.deviceId === current)) {
      const lost = before[kind].find((d) => d.deviceId === current) ?? { deviceId: current, label: describeKind(kind) };
      out.fallbacks.push({ kind, lost, to: now.find(alias) ?? now[0] });
    }
    if (kind === 'camera') continue; // a new camera is rarely what a lesson wants switched to
    const known = new Set(before[kind].map((d) => d.deviceId));
    for (const d of now) if (!known.has(d.deviceId) && !alias(d) && d.deviceId !== current) out.offers.push({ kind, device: d });
  }
  return out;
}

function describeKind(kind: DeviceKind) {
  return kind === 'camera' ? 'Camera' : kind === 'microphone' ? 'Microphone' : 'Speaker';
}

/** The words of the notice after a change. */
export function describeDeviceChange(c: DeviceChange): string[] {
  const lines = c.fallbacks.map((f) => `${f.lost.label} was disconnected — now using ${f.to ? f.to.label : `the default ${f.kind}`}.`);
  const offered = [...new Map(c.offers.map((o) => [o.device.label, o])).values()];
  if (offered.length) lines.push(`${offered.map((o) => o.device.label).join(', ')} connected — pick it under Devices.`);
  return lines;
}

/** `setSinkId` exists (Chromium, Firefox 116+, Safari 18.4+): the speaker picker is shown only then. */
export function canPickSpeaker(proto: object | undefined = globalThis.HTMLMediaElement?.prototype): boolean {
  return !!proto && 'setSinkId' in proto;
}

/** One step of the controller's response to a lost device. */
export interface FallbackStep {
  kind: DeviceKind;
  /** The device to use now; undefined: the system default (no `deviceId` constraint). */
  deviceId: string | undefined;
  /** Open the new device now (getUserMedia); false: only remember it for when it is turned on. */
  acquire: boolean;
  /** Hand the new track to every peer (replaceTrack, no renegotiation). */
  sendToPeers: boolean;
}

/**
 * What the call does about each lost device. A camera that is off is not opened (the light
 * must not come on), only pointed at the default so turning it on later works; while the
 * screen is shared the camera is reopened but the peers keep getting the screen.
 */
export function fallbackSteps(change: DeviceChange, state: { cameraOff: boolean; screenSharing: boolean }): FallbackStep[] {
  return change.fallbacks.map((f) => {
    const deviceId = f.to?.deviceId;
    if (f.kind === 'speaker') return { kind: f.kind, deviceId, acquire: false, sendToPeers: false };
    if (f.kind === 'microphone') return { kind: f.kind, deviceId, acquire: true, sendToPeers: true };
    return { kind: f.kind, deviceId, acquire: !state.cameraOff, sendToPeers: !state.cameraOff && !state.screenSharing };
  });
}
