/**
 * Meeting identifiers, passcodes and join links: the booking platform's original utilities,
 * shared by the meeting service (which issues them) and the web client (which parses them).
 * Randomness comes from the Web Crypto CSPRNG, present in Node and browsers.
 */

/** No 0/O, 1/I/L: an id read aloud or typed from a screenshot stays unambiguous. */
export const meetingIdAlphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const meetingIdPattern = /^MID-[A-Z0-9]{16}$/;
const issuedIdPattern = new RegExp(`^MID-[${meetingIdAlphabet}]{16}$`);
export const passcodePattern = /^[0-9]{6}$/;
export const sessionIdPattern = /^[A-Za-z0-9_-]{8,64}$/;
/** A client's key for one join (the REST Idempotency-Key header, hello.joinKey): visible ASCII, as an HTTP header value. */
export const joinKeyPattern = /^[\x21-\x7e]{1,128}$/;

export type RandomSource = (bytes: Uint8Array) => Uint8Array;
const cryptoRandom: RandomSource = (bytes) => globalThis.crypto.getRandomValues(bytes);

/** Uniform index in [0, n) without modulo bias. */
function uniform(n: number, random: RandomSource): number {
  const limit = 256 - (256 % n);
  const b = new Uint8Array(1);
  for (;;) {
    random(b);
    if ((b[0] as number) < limit) return (b[0] as number) % n;
  }
}

export function generateMeetingId(random: RandomSource = cryptoRandom): string {
  let id = 'MID-';
  for (let i = 0; i < 16; i++) id += meetingIdAlphabet[uniform(meetingIdAlphabet.length, random)];
  return id;
}

export function generatePasscode(random: RandomSource = cryptoRandom): string {
  let code = '';
  for (let i = 0; i < 6; i++) code += String(uniform(10, random));
  return code;
}

export function generateMeetingCredentials(random: RandomSource = cryptoRandom): { meetingId: string; passcode: string } {
  return { meetingId: generateMeetingId(random), passcode: generatePasscode(random) };
}

/** A session id: 22 URL-safe characters (128 bits). */
export function generateSessionId(random: RandomSource = cryptoRandom): string {
  const bytes = random(new Uint8Array(16));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Accepts any id of the stored format (`MID-` + 16 of A–Z, 0–9). */
export function isValidMeetingId(value: unknown): value is string {
  return typeof value === 'string' && meetingIdPattern.test(value);
}

/** A client's join key: 1 to 128 visible ASCII characters. */
export function isValidJoinKey(value: unknown): value is string {
  return typeof value === 'string' && joinKeyPattern.test(value);
}

/** Whether an id could have been issued by generateMeetingId (unambiguous alphabet). */
export function isIssuedMeetingId(value: unknown): value is string {
  return typeof value === 'string' && issuedIdPattern.test(value);
}

export function isValidPasscode(value: unknown): value is string {
  return typeof value === 'string' && passcodePattern.test(value);
}

/**
 * `<base>/meet/<meetingId>#pwd=<passcode>`; the base may carry a path prefix. The passcode is in
 * the fragment, which browsers never send: it stays out of server, proxy and ingress logs.
 */
export function generateMeetingUrl(baseUrl: string, meetingId: string, passcode: string): string {
  if (!isValidMeetingId(meetingId)) throw new Error(`invalid meeting id: ${meetingId}`);
  if (!isValidPasscode(passcode)) throw new Error('invalid passcode');
  const base = new URL(baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error(`meeting links must be http(s): ${baseUrl}`);
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}/meet/${meetingId}`, base);
  url.hash = new URLSearchParams({ pwd: passcode }).toString();
  return url.toString();
}

export interface MeetingCredentials {
  meetingId: string;
  /** Absent when the link carries none; the lobby then asks for it. */
  passcode: string | undefined;
}

/**
 * Reads meeting id and passcode back from a link (or a path with query). The passcode is read
 * from the fragment (`#pwd=`), or from the query of older links (`?pwd=`, `?passcode=`).
 * Returns undefined for anything that is not a meeting link; an invalid passcode is treated as
 * absent.
 */
export function extractCredentialsFromUrl(link: string): MeetingCredentials | undefined {
  let url: URL;
  try {
    url = new URL(link, 'http://localhost');
  } catch {
    return undefined;
  }
  const m = /\/meet\/([^/?#]+)\/?$/.exec(url.pathname);
  const meetingId = m?.[1] ? decodeURIComponent(m[1]).toUpperCase() : undefined;
  if (!isValidMeetingId(meetingId)) return undefined;
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ''));
  const pwd = fragment.get('pwd') ?? url.searchParams.get('pwd') ?? url.searchParams.get('passcode') ?? undefined;
  return { meetingId, passcode: isValidPasscode(pwd) ? pwd : undefined };
}

export interface JoinWindowPolicy {
  /** How early before the scheduled start one may join (default 15 min). */
  leadMs: number;
  /** How long after the scheduled end one may still join (default 15 min). */
  graceMs: number;
}

export const defaultJoinWindow: JoinWindowPolicy = { leadMs: 15 * 60_000, graceMs: 15 * 60_000 };

export interface SchedulableMeeting {
  status: string;
  scheduledStart: Date;
  scheduledEnd: Date;
}

export function joinWindow(m: Pick<SchedulableMeeting, 'scheduledStart' | 'scheduledEnd'>, policy: JoinWindowPolicy = defaultJoinWindow) {
  return { opensAt: new Date(m.scheduledStart.getTime() - policy.leadMs), closesAt: new Date(m.scheduledEnd.getTime() + policy.graceMs) };
}

export type Accessibility =
  | { ok: true }
  | { ok: false; code: 'meeting_cancelled' | 'meeting_ended' }
  | { ok: false; code: 'meeting_not_started'; opensAt: Date; retryAfterSeconds: number };

/** Whether a meeting can be joined now: never when cancelled or completed, only inside its window. */
export function checkMeetingAccessibility(m: SchedulableMeeting, now: Date, policy: JoinWindowPolicy = defaultJoinWindow): Accessibility {
  if (m.status === 'cancelled') return { ok: false, code: 'meeting_cancelled' };
  if (m.status === 'completed') return { ok: false, code: 'meeting_ended' };
  const { opensAt, closesAt } = joinWindow(m, policy);
  if (now < opensAt) {
    return { ok: false, code: 'meeting_not_started', opensAt, retryAfterSeconds: Math.ceil((opensAt.getTime() - now.getTime()) / 1000) };
  }
  if (now >= closesAt) return { ok: false, code: 'meeting_ended' };
  return { ok: true };
}
