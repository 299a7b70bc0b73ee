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
