import { describe, expect, it } from 'vitest';
import { describeError, describeMeetingEnd, formatWait, GatewayError, isFinal, MediaAccessError, mediaErrorFrom } from './errors';

const dom = (name: string) => Object.assign(new Error(name), { name });

describe('getUserMedia errors', () => {
  it('maps the browser error names to what happened', () => {
    expect(mediaErrorFrom(dom('NotAllowedError'), 'camera').code).toBe('media_blocked');
    expect(mediaErrorFrom(dom('PermissionDeniedError'), 'camera').code).toBe('media_blocked');
    expect(mediaErrorFrom(dom('NotReadableError'), 'camera').code).toBe('media_in_use');
    expect(mediaErrorFrom(dom('TrackStartError'), 'microphone').code).toBe('media_in_use');
    expect(mediaErrorFrom(dom('NotFoundError'), 'camera').code).toBe('media_not_found');
    expect(mediaErrorFrom(dom('OverconstrainedError'), 'camera').code).toBe('media_not_found');
    expect(mediaErrorFrom(dom('NotAllowedError'), 'camera', false).code).toBe('media_insecure');
    expect(mediaErrorFrom(dom('NotAllowedError'), 'screen').code).toBe('screen_cancelled');
    expect(mediaErrorFrom(dom('Weird'), 'camera').code).toBe('media_failed');
  });

  it('keeps the browser error as cause', () => {
    const cause = dom('NotReadableError');
    expect(mediaErrorFrom(cause, 'camera').cause).toBe(cause);
  });

  it('says a blocked camera is blocked and how to allow it', () => {
    const m = describeError(new MediaAccessError('media_blocked', 'camera'));
    expect(m.title).toBe('Camera blocked');
    expect(m.fix).toMatch(/address bar/);
    expect(m.fix).toMatch(/Allow/);
    expect(m.retryable).toBe(true);
  });

  it('says a camera in use is in use, and a missing one is missing', () => {
    expect(describeError(new MediaAccessError('media_in_use', 'camera'))).toMatchObject({
      title: 'Camera in use',
      detail: expect.stringMatching(/Another app/),
    });
    expect(describeError(new MediaAccessError('media_not_found', 'camera'))).toMatchObject({
      title: 'No camera found',
      fix: expect.stringMatching(/join with the camera off/),
    });
    expect(describeError(new MediaAccessError('media_blocked', 'microphone')).title).toBe('Microphone blocked');
    expect(describeError(new MediaAccessError('media_blocked', 'camera+microphone')).title).toBe('Camera and microphone blocked');
  });
});

describe('gateway errors', () => {
  it('counts the passcode attempts left', () => {
    expect(describeError(new GatewayError('passcode_invalid', 'x', { attemptsLeft: 3 }))).toMatchObject({
      title: 'Wrong passcode',
      detail: expect.stringContaining('3 attempts left'),
      attemptsLeft: 3,
      retryable: true,
    });
    expect(describeError(new GatewayError('passcode_invalid', 'x', { attemptsLeft: 1 })).detail).toContain('1 attempt left');
    expect(describeError(new GatewayError('passcode_invalid', 'x', { attemptsLeft: 0 })).retryable).toBe(false);
  });

  it('says how long a lock or a not-started lesson lasts', () => {
    expect(describeError(new GatewayError('passcode_locked', 'x', { retryAfterSeconds: 600 })).detail).toContain('10 minutes');
    const notStarted = describeError(new GatewayError('meeting_not_started', 'x', { retryAfterSeconds: 3600 }));
    expect(notStarted).toMatchObject({ title: 'Your lesson has not started yet', retryAfterSeconds: 3600 });
    expect(notStarted.detail).toContain('in 1 hour');
  });

  it('has words for every state the gateway can answer with', () => {
    const titles: Record<string, RegExp> = {
      meeting_ended: /ended/,
      meeting_cancelled: /cancelled/,
      not_a_participant: /not your lesson/,
      meeting_full: /full/,
      meeting_not_found: /not found/,
      unauthenticated: /sign in/,
      token_expired: /sign in/,
      rate_limited: /Too many/,
      unavailable: /Cannot reach/,
      internal: /Cannot reach/,
      invalid_request: /link/,
      resume_rejected: /no longer in the lesson/,
    };
    for (const [code, title] of Object.entries(titles)) expect(describeError(new GatewayError(code, code)).title, code).toMatch(title);
  });

  it('treats a failed fetch as the server being unreachable', () => {
    expect(describeError(new TypeError('Failed to fetch')).code).toBe('unavailable');
  });

  it('knows which join errors are final', () => {
    expect(isFinal('meeting_ended')).toBe(true);
    expect(isFinal('not_a_participant')).toBe(true);
    expect(isFinal('passcode_invalid')).toBe(false);
    expect(isFinal('meeting_not_started')).toBe(false);
    // A signed-out token: retrying with it can never succeed.
    expect(isFinal('token_revoked')).toBe(true);
    expect(describeError(new GatewayError('token_revoked', 'signed out')).title).toBe('Signed out');
  });

  it('explains why a lesson ended', () => {
    expect(describeMeetingEnd('ended_by_tutor').detail).toMatch(/tutor ended/);
    expect(describeMeetingEnd('window_closed').detail).toMatch(/scheduled time is over/);
    expect(describeMeetingEnd('something_new').title).toBe('The lesson has ended');
  });

  it('formats waits', () => {
    expect(formatWait(30)).toBe('30 seconds');
    expect(formatWait(1)).toBe('1 second');
    expect(formatWait(600)).toBe('10 minutes');
    expect(formatWait(7200)).toBe('2 hours');
    expect(formatWait(6300)).toBe('1 hour 45 minutes');
    expect(formatWait(3 * 86_400)).toBe('3 days');
  });
});
