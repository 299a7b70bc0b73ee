import { describe, expect, it } from 'vitest';
import { describeGatewayError, GatewayError, type UserMessage } from './errors';
import { type CallEvent, type CallState, initialCallState, isLive, transition } from './state';

const err = (code: string): UserMessage => describeGatewayError(new GatewayError(code, code));
const welcome: CallEvent = { type: 'welcome', sessionId: 's1', userType: 'student' };

function run(...events: CallEvent[]): CallState {
  return events.reduce(transition, initialCallState);
}

describe('call state machine', () => {
  it('walks the happy path: idle → preview → joining → in-call → left', () => {
    expect(run({ type: 'open-lobby' })).toEqual({ phase: 'preview' });
    expect(run({ type: 'open-lobby' }, { type: 'join' })).toEqual({ phase: 'joining' });
    expect(run({ type: 'open-lobby' }, { type: 'join' }, welcome)).toEqual({ phase: 'in-call', sessionId: 's1', userType: 'student' });
    expect(run({ type: 'open-lobby' }, { type: 'join' }, welcome, { type: 'leave' })).toEqual({ phase: 'left', reason: 'left' });
  });

  it('goes back to the lobby with the reason when a fixable join error comes back', () => {
    const s = run({ type: 'open-lobby' }, { type: 'join' }, { type: 'join-rejected', error: err('passcode_invalid') });
    expect(s).toMatchObject({ phase: 'preview', joinError: { code: 'passcode_invalid' } });
    // and the user can try again from there
    expect(transition(s, { type: 'join' })).toEqual({ phase: 'joining' });
    // or fix it first (a new passcode), which clears the message
    expect(transition(s, { type: 'dismiss-error' })).toEqual({ phase: 'preview' });
  });

  it('fails for good when the lesson cannot be joined by this user', () => {
    for (const code of ['meeting_ended', 'meeting_cancelled', 'not_a_participant', 'meeting_not_found']) {
      expect(run({ type: 'open-lobby' }, { type: 'join' }, { type: 'join-rejected', error: err(code) })).toMatchObject({ phase: 'failed', error: { code } });
    }
  });

  it('keeps the session through reconnecting and back', () => {
    const inCall = run({ type: 'open-lobby' }, { type: 'join' }, welcome);
    const r1 = transition(inCall, { type: 'connection-lost', attempt: 1 });
    expect(r1).toEqual({ phase: 'reconnecting', sessionId: 's1', userType: 'student', attempt: 1 });
    expect(isLive(r1)).toBe(true);
    const r2 = transition(r1, { type: 'connection-lost', attempt: 2 });
    expect(r2).toMatchObject({ phase: 'reconnecting', attempt: 2 });
    expect(transition(r2, welcome)).toEqual(inCall);
    // a fresh session after a refused resume is in-call with the new id
    expect(transition(r2, { ...welcome, sessionId: 's2' })).toMatchObject({ phase: 'in-call', sessionId: 's2' });
    // In the call: the same session changes nothing; a new one (a silent renewal whose resume was refused) is recorded.
    expect(transition(inCall, welcome)).toBe(inCall);
    expect(transition(inCall, { ...welcome, sessionId: 's3' })).toEqual({ phase: 'in-call', sessionId: 's3', userType: 'student' });
  });

  it('fails when reconnecting is refused', () => {
    const r = run({ type: 'open-lobby' }, { type: 'join' }, welcome, { type: 'connection-lost', attempt: 1 });
    expect(transition(r, { type: 'join-rejected', error: err('unavailable') })).toMatchObject({ phase: 'failed', error: { code: 'unavailable' } });
  });

  it('ends the call for everyone in it, with the reason', () => {
    const message = { code: 'meeting_ended', title: 'The lesson has ended', detail: 'The tutor ended the lesson for everyone.', retryable: false };
    const inCall = run({ type: 'open-lobby' }, { type: 'join' }, welcome);
    expect(transition(inCall, { type: 'meeting-ended', message })).toEqual({ phase: 'left', reason: 'ended', message });
    expect(transition(transition(inCall, { type: 'connection-lost', attempt: 1 }), { type: 'meeting-ended', message })).toMatchObject({ phase: 'left' });
  });

  it('ignores events that do not fit the phase, returning the same object', () => {
    const idle = initialCallState;
    expect(transition(idle, { type: 'join' })).toBe(idle);
    expect(transition(idle, welcome)).toBe(idle);
    const preview = run({ type: 'open-lobby' });
    expect(transition(preview, welcome)).toBe(preview);
    expect(transition(preview, { type: 'connection-lost', attempt: 1 })).toBe(preview);
    expect(transition(preview, { type: 'leave' })).toBe(preview);
    const left = run({ type: 'open-lobby' }, { type: 'join' }, welcome, { type: 'leave' });
    expect(transition(left, welcome)).toBe(left); // a late welcome after leaving
    expect(transition(left, { type: 'connection-lost', attempt: 1 })).toBe(left);
    expect(transition(left, { type: 'fatal', error: err('internal') })).toBe(left);
    const joining = run({ type: 'open-lobby' }, { type: 'join' });
    expect(transition(joining, { type: 'join' })).toBe(joining);
  });

  it('can rejoin from left or failed through the lobby', () => {
    const left = run({ type: 'open-lobby' }, { type: 'join' }, welcome, { type: 'leave' });
    expect(transition(left, { type: 'rejoin' })).toEqual({ phase: 'preview' });
    const failed = transition(run({ type: 'open-lobby' }, { type: 'join' }, welcome), { type: 'fatal', error: err('internal') });
    expect(failed).toMatchObject({ phase: 'failed' });
    expect(transition(failed, { type: 'rejoin' })).toEqual({ phase: 'preview' });
  });
});
