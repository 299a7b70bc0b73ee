/**
 * Every failure the app can meet, as named errors with stable codes, and one place that turns
 * them into words a tutor or student understands (with how to fix it, where they can).
 */

import { type ErrorCodeName, removedFromLessonMessage } from '@lessoncall/proto';

/** The gateway's error codes: proto ErrorCode in its wire form, the one list the services use too. */
export type GatewayErrorCode = ErrorCodeName;

export interface GatewayErrorDetails {
  /** HTTP status, for REST answers. */
  status?: number;
  retryAfterSeconds?: number;
  attemptsLeft?: number;
  field?: string;
}

/** An error answer from the gateway (REST problem+json or a WebSocket `error`), or no answer at all (`unavailable`). */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: string;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly attemptsLeft: number | undefined;
  readonly field: string | undefined;

  constructor(code: string, message: string, details: GatewayErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = details.status;
    this.retryAfterSeconds = details.retryAfterSeconds || undefined;
    this.attemptsLeft = details.attemptsLeft;
    this.field = details.field || undefined;
  }
}

export type MediaDeviceKind = 'camera' | 'microphone' | 'camera+microphone' | 'screen';
export type MediaErrorCode = 'media_blocked' | 'media_in_use' | 'media_not_found' | 'media_insecure' | 'media_failed' | 'screen_cancelled';

/** getUserMedia / getDisplayMedia failed; `cause` is the browser's DOMException. */
export class MediaAccessError extends Error {
  override readonly name = 'MediaAccessError';
  constructor(
    readonly code: MediaErrorCode,
    readonly kind: MediaDeviceKind,
    options?: ErrorOptions,
  ) {
    super(`${kind}: ${code}`, options);
  }
}

/** Maps a getUserMedia/getDisplayMedia rejection to a MediaAccessError (DOMException names per the Media Capture spec, plus old Chrome aliases). */
export function mediaErrorFrom(err: unknown, kind: MediaDeviceKind, secureContext = globalThis.isSecureContext ?? true): MediaAccessError {
  if (err instanceof MediaAccessError) return err;
  const name = typeof err === 'object' && err && 'name' in err ? String((err as { name: unknown }).name) : '';
  let code: MediaErrorCode;
  if (!secureContext) code = 'media_insecure';
  else if (kind === 'screen' && name === 'NotAllowedError') code = 'screen_cancelled';
  else if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') code = 'media_blocked';
  else if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') code = 'media_in_use';
  else if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError' || name === 'ConstraintNotSatisfiedError')
    code = 'media_not_found';
  else if (name === 'TypeError' && !globalThis.navigator?.mediaDevices) code = 'media_insecure';
  else code = 'media_failed';
  return new MediaAccessError(code, kind, { cause: err });
}

/** What the user reads. `fix` says what they can do about it. */
export interface UserMessage {
  code: string;
  title: string;
  detail: string;
  fix?: string;
  retryAfterSeconds?: number;
  attemptsLeft?: number;
  /** Whether doing the same thing again (now or after retryAfterSeconds) can succeed. */
  retryable: boolean;
}

/** Join errors after which staying in the lobby is pointless: the lesson is not reachable for this user. */
const finalCodes = new Set(['meeting_ended', 'meeting_cancelled', 'not_a_participant', 'meeting_not_found', 'forbidden', 'token_revoked']);

export function isFinal(code: string): boolean {
  return finalCodes.has(code);
}

/** Codes where a later attempt can succeed without the user changing anything. */
const transientCodes = new Set(['unavailable', 'internal', 'rate_limited', 'conflict', 'meeting_not_started', 'passcode_locked']);

export function isTransient(code: string): boolean {
  return transientCodes.has(code);
}

function plural(n: number, one: string, many: string) {
  return `${n} ${n === 1 ? one : many}`;
}

/** "45 seconds", "3 minutes", "1 hour 45 minutes", "2 days" — for waits the gateway announces. */
export function formatWait(seconds: number): string {
  if (seconds >= 2 * 86_400) return plural(Math.round(seconds / 86_400), 'day', 'days');
  if (seconds >= 3_600) {
    const minutes = Math.round(seconds / 60);
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return m ? `${plural(h, 'hour', 'hours')} ${plural(m, 'minute', 'minutes')}` : plural(h, 'hour', 'hours');
  }
  if (seconds >= 90) return plural(Math.round(seconds / 60), 'minute', 'minutes');
  return plural(Math.max(1, Math.round(seconds)), 'second', 'seconds');
}

function deviceWords(kind: MediaDeviceKind) {
  if (kind === 'camera+microphone') return { noun: 'camera and microphone', Noun: 'Camera and microphone', icon: 'camera' };
  if (kind === 'microphone') return { noun: 'microphone', Noun: 'Microphone', icon: 'microphone' };
  if (kind === 'screen') return { noun: 'screen', Noun: 'Screen sharing', icon: 'screen' };
  return { noun: 'camera', Noun: 'Camera', icon: 'camera' };
}

export function describeMediaError(e: MediaAccessError): UserMessage {
  const w = deviceWords(e.kind);
  const both = e.kind === 'camera+microphone';
  switch (e.code) {
    case 'media_blocked':
      return {
        code: e.code,
        title: `${w.Noun} blocked`,
        detail: `Your browser is not letting this page use your ${w.noun}.`,
        fix: `Click the ${w.icon} or lock icon in the address bar, choose “Allow” for the ${w.noun}, then press “Try again”. On a Mac, also check System Settings → Privacy & Security → ${both ? 'Camera and Microphone' : w.Noun}.`,
        retryable: true,
      };
    case 'media_in_use':
      return {
        code: e.code,
        title: `${w.Noun} in use`,
        detail: `Another app or browser tab is using your ${w.noun}, so it cannot start here.`,
        fix: 'Close the other app (another video call, a camera app or another tab of this lesson), then press “Try again”.',
        retryable: true,
      };
    case 'media_not_found':
      return {
        code: e.code,
        title: both ? 'No camera or microphone found' : `No ${w.noun} found`,
        detail: `This device has no ${w.noun} that the browser can use.`,
        fix: `Plug one in and press “Try again”, or join with the ${w.noun} off.`,
        retryable: true,
      };
    case 'media_insecure':
      return {
        code: e.code,
        title: 'Camera and microphone unavailable on this address',
        detail: 'Browsers only allow the camera and microphone on secure (https) pages.',
        fix: 'Open the lesson link exactly as you received it (it starts with https://).',
        retryable: false,
      };
    case 'screen_cancelled':
      return {
        code: e.code,
        title: 'Screen sharing not started',
        detail: 'No screen or window was chosen, or the browser blocked screen sharing.',
        retryable: true,
      };
    default:
      return {
        code: e.code,
        title: `${w.Noun} did not start`,
        detail: `The browser could not start your ${w.noun}.`,
        fix: 'Press “Try again”; if it keeps failing, restart the browser.',
        retryable: true,
      };
  }
}

export function describeGatewayError(e: GatewayError): UserMessage {
  const base = { code: e.code, ...(e.retryAfterSeconds ? { retryAfterSeconds: e.retryAfterSeconds } : {}) };
  switch (e.code) {
    case 'passcode_invalid': {
      const left = e.attemptsLeft;
      return {
        ...base,
        ...(left !== undefined ? { attemptsLeft: left } : {}),
        title: 'Wrong passcode',
        detail:
          left === undefined
            ? 'That passcode does not match this lesson.'
            : left === 0
              ? 'That passcode does not match this lesson, and passcode entry is now locked for a while.'
              : `That passcode does not match this lesson. ${plural(left, 'attempt', 'attempts')} left before passcode entry is locked.`,
        fix: 'The 6-digit passcode is in your lesson link and in the booking confirmation.',
        retryable: left !== 0,
      };
    }
    case 'passcode_locked':
      return {
        ...base,
        title: 'Too many wrong passcodes',
        detail: e.retryAfterSeconds
          ? `Passcode entry for this lesson is locked. You can try again in ${formatWait(e.retryAfterSeconds)}.`
          : 'Passcode entry for this lesson is locked for a while.',
        fix: 'Use the link from your booking confirmation; it carries the right passcode.',
        retryable: true,
      };
    case 'meeting_not_started':
      return {
        ...base,
        title: 'Your lesson has not started yet',
        detail: e.retryAfterSeconds
          ? `It opens for joining shortly before it starts, in ${formatWait(e.retryAfterSeconds)}. Keep this page open: the Join button turns on by itself.`
          : 'It opens for joining shortly before it starts. Keep this page open: the Join button turns on by itself.',
        retryable: true,
      };
    case 'meeting_ended':
      return { ...base, title: 'This lesson has ended', detail: 'The lesson is over, so it can no longer be joined.', retryable: false };
    case 'meeting_cancelled':
      return {
        ...base,
        title: 'This lesson was cancelled',
        detail: 'The booking for this lesson was cancelled.',
        fix: 'Check your bookings for a new time.',
        retryable: false,
      };
    case 'not_a_participant':
      return {
        ...base,
        title: 'This is not your lesson',
        detail: 'You are signed in with an account that is neither the tutor nor the student of this lesson.',
        fix: 'Sign out, then sign in with the account you booked the lesson with.',
        retryable: false,
      };
    case 'meeting_full':
      return {
        ...base,
        title: 'The lesson is full',
        detail: 'Everyone who can join this lesson is already connected.',
        fix: 'If you have the lesson open in another tab or device, close it there and press “Try again”.',
        retryable: true,
      };
    case 'meeting_not_found':
      return {
        ...base,
        title: 'Lesson not found',
        detail: 'There is no lesson with this meeting ID.',
        fix: 'Check the meeting ID in your link.',
        retryable: false,
      };
    case 'unauthenticated':
    case 'token_expired':
      return { ...base, title: 'Please sign in again', detail: 'Your sign-in has expired or is not valid any more.', retryable: false };
    case 'token_revoked':
      return {
        ...base,
        title: 'Signed out',
        detail: 'You signed out of lessoncall (here or on another device).',
        fix: 'Sign in again to rejoin the lesson.',
        retryable: false,
      };
    case 'forbidden':
      return { ...base, title: 'Not allowed', detail: 'Your account is not allowed to do that.', retryable: false };
    case 'rate_limited':
      return {
        ...base,
        title: 'Too many attempts',
        detail: e.retryAfterSeconds ? `Please wait ${formatWait(e.retryAfterSeconds)} and try again.` : 'Please wait a moment and try again.',
        retryable: true,
      };
    case 'invalid_request':
      return {
        ...base,
        title: 'Something is wrong with this link',
        detail: e.field ? `The ${e.field} is not valid.` : 'The request was not valid.',
        fix: 'Open the lesson link again, exactly as you received it.',
        retryable: false,
      };
    case 'removed_from_meeting':
      return {
        ...base,
        title: removedFromLessonMessage,
        detail: 'You cannot rejoin this lesson unless the tutor lets you back in.',
        fix: 'If this was a mistake, ask your tutor to let you back in, then join again.',
        // The tutor can lift the removal: a later join may succeed.
        retryable: true,
      };
    case 'not_tutor':
      return { ...base, title: 'Only the tutor can do that', detail: "This control is the lesson's tutor's.", retryable: false };
    case 'resume_rejected':
    case 'session_not_found':
    case 'not_in_meeting':
      return { ...base, title: 'You are no longer in the lesson', detail: 'Your connection to the lesson was reset.', retryable: true };
    case 'unavailable':
    case 'internal':
    case 'conflict':
      return {
        ...base,
        title: 'Cannot reach the lesson server',
        detail: 'The connection to the lesson server failed.',
        fix: 'Check your internet connection and press “Try again”.',
        retryable: true,
      };
    default:
      return { ...base, title: 'Something went wrong', detail: e.message || 'The lesson server answered with an error.', retryable: true };
  }
}

export function describeError(err: unknown): UserMessage {
  if (err instanceof GatewayError) return describeGatewayError(err);
  if (err instanceof MediaAccessError) return describeMediaError(err);
  if (err instanceof TypeError) return describeGatewayError(new GatewayError('unavailable', err.message, {}, { cause: err }));
  return { code: 'unknown', title: 'Something went wrong', detail: err instanceof Error ? err.message : String(err), retryable: true };
}

/** Why a lesson ended (MeetingEndedNotice.reason / MeetingEnded.reason), for the ended screen. */
export function describeMeetingEnd(reason: string): UserMessage {
  const detail: Record<string, string> = {
    ended_by_tutor: 'The tutor ended the lesson for everyone.',
    last_participant_left: 'Everyone left, so the lesson ended.',
    window_closed: 'The lesson’s scheduled time is over.',
    cancelled: 'The lesson was cancelled.',
  };
  return {
    code: 'meeting_ended',
    title: reason === 'cancelled' ? 'Lesson cancelled' : 'The lesson has ended',
    detail: detail[reason] ?? 'The lesson has ended.',
    retryable: false,
  };
}

/** Why someone else left (PeerLeft.reason), for a short notice. */
export function describePeerLeft(name: string, reason: string): string {
  if (reason === 'timeout') return `${name} lost their connection`;
  if (reason === 'ended') return `${name} left (the lesson ended)`;
  if (reason === 'removed') return `${name} was removed from the lesson`;
  return `${name} left the lesson`;
}
