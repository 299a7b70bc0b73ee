/**
 * Where the app is, from the address bar: the page to type a meeting ID and passcode, or one
 * meeting (`/meet/<meetingId>#pwd=<passcode>`, as the meeting service's link helper writes it;
 * `?pwd=` of older links is still read).
 */
import { extractCredentialsFromUrl, isValidMeetingId, isValidPasscode } from '@lessoncall/proto';

export type Route =
  | { page: 'enter' }
  | {
      page: 'meeting';
      meetingId: string;
      /** Undefined when the link carries none (the lobby asks for it). */
      passcode: string | undefined;
      /** `?relay=1`: ICE uses TURN relay candidates only (tests, and users behind strict networks). */
      forceRelay: boolean;
      /** `?as=tutor|student`: sign in as that demo user (local dev issuer only; the start script prints such links). */
      demoAs: 'tutor' | 'student' | undefined;
    }
  | { page: 'not-found'; path: string };

const truthy = new Set(['1', 'true', 'yes', 'on']);

export function parseRoute(href: string): Route {
  const url = new URL(href, 'http://localhost');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/join') return { page: 'enter' };
  if (path.includes('/meet/')) {
    const creds = extractCredentialsFromUrl(href);
    if (!creds) return { page: 'not-found', path };
    const as = url.searchParams.get('as');
    return {
      page: 'meeting',
      meetingId: creds.meetingId,
      passcode: creds.passcode,
      forceRelay: truthy.has(url.searchParams.get('relay') ?? ''),
      demoAs: as === 'tutor' || as === 'student' ? as : undefined,
    };
  }
  return { page: 'not-found', path };
}

/** The app path of a meeting, the passcode in the fragment (never sent to a server); keeps `relay=1` when asked. */
export function meetingPath(meetingId: string, passcode?: string, options: { forceRelay?: boolean } = {}): string {
  const q = new URLSearchParams();
  if (options.forceRelay) q.set('relay', '1');
  const qs = q.toString();
  const fragment = passcode ? `#${new URLSearchParams({ pwd: passcode })}` : '';
  return `/meet/${encodeURIComponent(meetingId)}${qs ? `?${qs}` : ''}${fragment}`;
}

const passcodeKeys = ['pwd', 'passcode'];

/**
 * The address without its passcode (query and fragment alike), to put in the address bar with
 * `history.replaceState`: then it is in no history entry, bookmark or copied link, and a reload
 * does not send an old `?pwd=` to the server again. Undefined when there is nothing to strip.
 */
export function addressWithoutPasscode(href: string): string | undefined {
  const url = new URL(href, 'http://localhost');
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ''));
  const found = passcodeKeys.some((k) => url.searchParams.has(k) || fragment.has(k));
  if (!found) return undefined;
  for (const k of passcodeKeys) {
    url.searchParams.delete(k);
    fragment.delete(k);
  }
  const rest = fragment.toString();
  const out = `${url.pathname}${url.search}${rest ? `#${rest}` : ''}`;
  return /^[a-z]+:\/\//i.test(href) ? `${url.origin}${out}` : out;
}

/** Where a tab keeps the passcode it took out of the address: sessionStorage, this tab only, gone with it. */
export interface PasscodeStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const storeKey = (meetingId: string) => `lessoncall.passcode.${meetingId}`;

/** Keeps the passcode for a reload of this tab (the address no longer has it). */
export function rememberPasscode(store: PasscodeStore, meetingId: string, passcode: string): void {
  try {
    store.setItem(storeKey(meetingId), passcode);
  } catch {
    // Storage refused (private mode quota): a reload then asks for the passcode again.
  }
}

export function recalledPasscode(store: PasscodeStore, meetingId: string): string | undefined {
  try {
    const p = store.getItem(storeKey(meetingId));
    return p && isValidPasscode(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

export interface MeetingIdInput {
  /** The meeting ID once the input is one. */
  meetingId: string | undefined;
  /** A passcode found in a pasted link. */
  passcode: string | undefined;
  /** What is wrong, in words; undefined while the input is fine or still empty. */
  problem: string | undefined;
}

const idChars = /^[A-Z0-9]*$/;

/**
 * Reads what someone types or pastes into the meeting ID field: a full link, `MID-…`, or the 16
 * characters without the prefix, in any case, with stray spaces. `problem` is only set for input
 * that can no longer become a valid ID, so typing is never interrupted by an error.
 */
export function parseMeetingIdInput(raw: string): MeetingIdInput {
  const text = raw.trim();
  if (!text) return { meetingId: undefined, passcode: undefined, problem: undefined };
  if (text.includes('/meet/')) {
    const creds = extractCredentialsFromUrl(text);
    if (creds) return { meetingId: creds.meetingId, passcode: creds.passcode, problem: undefined };
    return { meetingId: undefined, passcode: undefined, problem: 'This link is not a lesson link.' };
  }
  const compact = text.toUpperCase().replace(/[\s-]/g, '');
  const body = compact.startsWith('MID') ? compact.slice(3) : compact;
  if (!idChars.test(body))
    return { meetingId: undefined, passcode: undefined, problem: 'Meeting IDs have only letters and digits, like MID-AB12CD34EF56GH78.' };
  if (body.length > 16) return { meetingId: undefined, passcode: undefined, problem: 'That is too long: a meeting ID has 16 characters after “MID-”.' };
  const id = `MID-${body}`;
  if (isValidMeetingId(id)) return { meetingId: id, passcode: undefined, problem: undefined };
  return { meetingId: undefined, passcode: undefined, problem: undefined };
}

/** Problem with a passcode as typed; undefined while it can still become valid. */
export function passcodeProblem(raw: string, final = false): string | undefined {
  const text = raw.trim();
  if (!text) return final ? 'Enter the 6-digit passcode.' : undefined;
  if (!/^[0-9]*$/.test(text)) return 'The passcode has only digits.';
  if (text.length > 6) return 'The passcode has 6 digits.';
  if (final && !isValidPasscode(text)) return 'The passcode has 6 digits.';
  return undefined;
}
