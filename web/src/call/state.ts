/**
 * The life of one call as a typed state machine. Every change of phase goes through
 * `transition`, so an event that does not fit the current phase (a late welcome after leaving,
 * a second join) is dropped here instead of half-applied somewhere in the UI.
 *
 *   idle ─open-lobby─► preview ─join─► joining ─welcome─► in-call ◄─welcome─┐
 *                        ▲  ▲            │                  │             │
 *                        │  └join-rejected (fixable)        connection-lost │
 *                        │               │                  ▼             │
 *                        │               └─final──► failed  reconnecting ─┘
 *                        └───────rejoin─────────── left ◄── leave / meeting-ended (from joining, in-call, reconnecting)
 */
import { isFinal, type UserMessage } from './errors';
import type { UserType } from './protocol';

export type LeftReason = 'left' | 'ended';

export type CallState =
  | { phase: 'idle' }
  | { phase: 'preview'; joinError?: UserMessage }
  | { phase: 'joining' }
  | { phase: 'in-call'; sessionId: string; userType: UserType }
  | { phase: 'reconnecting'; sessionId: string; userType: UserType; attempt: number }
  | { phase: 'left'; reason: LeftReason; message?: UserMessage }
  | { phase: 'failed'; error: UserMessage };

export type CallPhase = CallState['phase'];

export type CallEvent =
  | { type: 'open-lobby' }
  | { type: 'join' }
  | { type: 'welcome'; sessionId: string; userType: UserType }
  /** The gateway refused the hello: back to the lobby to fix it, or failed when nothing can be fixed. */
  | { type: 'join-rejected'; error: UserMessage }
  | { type: 'connection-lost'; attempt: number }
  | { type: 'leave' }
  | { type: 'meeting-ended'; message: UserMessage }
  | { type: 'fatal'; error: UserMessage }
  | { type: 'rejoin' }
  /** The user changed what the join error was about (a new passcode): the lobby stops showing it. */
  | { type: 'dismiss-error' };

export const initialCallState: CallState = { phase: 'idle' };

/** The next state, or the same object when the event does not apply (callers can compare by identity). */
export function transition(state: CallState, event: CallEvent): CallState {
  switch (event.type) {
    case 'open-lobby':
      return state.phase === 'idle' ? { phase: 'preview' } : state;
    case 'join':
      return state.phase === 'preview' ? { phase: 'joining' } : state;
    case 'welcome':
      // A welcome while reconnecting is a resume (same session) or a fresh session after the
      // resume was refused; either way we are in the call again. In the call, only a new session
      // changes anything (the socket renewed its TURN credentials without a visible drop, and its
      // resume was refused): the state is where the session lives.
      if (state.phase === 'in-call' && (state.sessionId !== event.sessionId || state.userType !== event.userType)) {
        return { phase: 'in-call', sessionId: event.sessionId, userType: event.userType };
      }
      return state.phase === 'joining' || state.phase === 'reconnecting' ? { phase: 'in-call', sessionId: event.sessionId, userType: event.userType } : state;
    case 'join-rejected':
      if (state.phase !== 'joining' && state.phase !== 'reconnecting') return state;
      if (isFinal(event.error.code)) return { phase: 'failed', error: event.error };
      return state.phase === 'joining' ? { phase: 'preview', joinError: event.error } : { phase: 'failed', error: event.error };
    case 'connection-lost':
      if (state.phase === 'in-call' || state.phase === 'reconnecting') {
        return { phase: 'reconnecting', sessionId: state.sessionId, userType: state.userType, attempt: event.attempt };
      }
      return state;
    case 'leave':
      return state.phase === 'joining' || state.phase === 'in-call' || state.phase === 'reconnecting' ? { phase: 'left', reason: 'left' } : state;
    case 'meeting-ended':
      return isLive(state) || state.phase === 'joining' || state.phase === 'preview' ? { phase: 'left', reason: 'ended', message: event.message } : state;
    case 'fatal':
      return state.phase === 'left' || state.phase === 'failed' || state.phase === 'idle' ? state : { phase: 'failed', error: event.error };
    case 'rejoin':
      return state.phase === 'left' || state.phase === 'failed' ? { phase: 'preview' } : state;
    case 'dismiss-error':
      return state.phase === 'preview' && state.joinError ? { phase: 'preview' } : state;
  }
}

/** In the call with media flowing (signaling may be reconnecting). */
export function isLive(state: CallState): state is Extract<CallState, { phase: 'in-call' | 'reconnecting' }> {
  return state.phase === 'in-call' || state.phase === 'reconnecting';
}
