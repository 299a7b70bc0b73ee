import { type ErrorCodeName, httpStatusOf, ServiceError } from '@lessoncall/kit';
import type { Response } from 'express';

/** RFC 9457 problem details, with the stable code the services use. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCodeName;
  instance: string;
  requestId: string;
  field?: string;
  attemptsLeft?: number;
  retryAfterSeconds?: number;
}

const titles: Record<ErrorCodeName, string> = {
  invalid_request: 'Invalid request',
  unauthenticated: 'Not signed in',
  token_expired: 'Session expired',
  token_revoked: 'Signed out',
  forbidden: 'Not allowed',
  not_a_participant: 'Not a participant of this meeting',
  not_in_meeting: 'Not in this meeting',
  passcode_invalid: 'Wrong passcode',
  resume_rejected: 'Session cannot be resumed',
  not_tutor: 'Only the tutor may do this',
  removed_from_meeting: 'Removed from this lesson',
  meeting_not_found: 'Meeting not found',
  session_not_found: 'Session not found',
  meeting_not_started: 'Meeting has not started yet',
  meeting_ended: 'Meeting has ended',
  meeting_cancelled: 'Meeting was cancelled',
  meeting_full: 'Meeting is full',
  conflict: 'Conflict',
  message_too_large: 'Request too large',
  board_full: 'Whiteboard is full',
  board_locked: 'Whiteboard is locked',
  passcode_locked: 'Passcode entry locked',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
  not_sfu: 'This lesson runs peer to peer',
  sfu_unavailable: 'Media server unavailable',
  recording_not_found: 'Recording not found',
};

export const problemTypeBase = 'https://lessoncall.dev/problems/';

/** Statuses whose problem carries Retry-After (default seconds when the service gave none). */
const retryAfterDefaults: Partial<Record<number, number>> = { 423: 60, 429: 1, 503: 2 };

export function problemOf(err: unknown, requestId: string, instance: string): Problem {
  const e = err instanceof ServiceError ? err : new ServiceError('internal', 'internal error');
  const status = httpStatusOf[e.code];
  const retryAfter = e.retryAfterSeconds ?? retryAfterDefaults[status];
  return {
    type: `${problemTypeBase}${e.code}`,
    title: titles[e.code],
    status,
    // An unexpected error's message may carry internals: it is logged, never sent.
    detail: e.code === 'internal' ? 'internal error' : e.message,
    code: e.code,
    instance,
    requestId,
    ...(e.field ? { field: e.field } : {}),
    ...(e.attemptsLeft === undefined ? {} : { attemptsLeft: e.attemptsLeft }),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  };
}

export function sendProblem(res: Response, problem: Problem): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (problem.retryAfterSeconds !== undefined) {
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(problem.retryAfterSeconds))));
  }
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}
