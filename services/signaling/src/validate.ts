import type { ErrorCodeName } from '@lessoncall/kit';
import { isSubjectToken, isValidMeetingId, type SignalEnvelope } from '@lessoncall/proto';

export const signalTypes = ['offer', 'answer', 'candidate', 'ice-restart'] as const;
export type SignalType = (typeof signalTypes)[number];

export interface SignalLimits {
  SIGNAL_MAX_SDP_BYTES: number;
  SIGNAL_MAX_CANDIDATE_BYTES: number;
}

export interface Problem {
  code: Extract<ErrorCodeName, 'invalid_request' | 'message_too_large'>;
  message: string;
}

const maxRequestIdLength = 128;
const encoder = new TextEncoder();

/** Whether a string's UTF-8 form exceeds `limit` bytes; encodes only when the length alone cannot tell. */
function exceedsBytes(s: string, limit: number): boolean {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes (a surrogate pair, 2 units, is 4).
  if (s.length > limit) return true;
  if (s.length * 3 <= limit) return false;
  return encoder.encode(s).length > limit;
}

/**
 * What is wrong with a signal.route envelope on its own (before asking whether both sessions
 * are live in the meeting), or undefined. `subjectMeetingId` is the subject's last token: the
 * gateway publishes on the meeting the sender's session belongs to, and the body must agree.
 */
export function envelopeProblem(env: SignalEnvelope, subjectMeetingId: string, limits: SignalLimits): Problem | undefined {
  const invalid = (message: string): Problem => ({ code: 'invalid_request', message });
  if (!isValidMeetingId(env.meetingId)) return invalid('meetingId is not a meeting id');
  if (env.meetingId !== subjectMeetingId) return invalid('meetingId does not match the subject');
  if (!isSubjectToken(env.toSessionId)) return invalid('toSessionId is not a session id');
  if (env.toSessionId === env.fromSessionId) return invalid('a session cannot signal itself');
  if (env.errorCode !== '') return invalid('errorCode is set by signaling only');
  if (env.requestId.length > maxRequestIdLength) return invalid(`requestId is longer than ${maxRequestIdLength} characters`);
  const signal = env.signal;
  if (!signal) return invalid('signal is missing');
  if (!(signalTypes as readonly string[]).includes(signal.type)) return invalid(`signal.type must be one of ${signalTypes.join(', ')}`);
  if (exceedsBytes(signal.sdp, limits.SIGNAL_MAX_SDP_BYTES)) {
    return { code: 'message_too_large', message: `signal.sdp is larger than ${limits.SIGNAL_MAX_SDP_BYTES} bytes` };
  }
  switch (signal.type as SignalType) {
    case 'offer':
    case 'answer':
      if (signal.sdp === '') return invalid(`an ${signal.type} needs signal.sdp`);
      if (signal.candidate) return invalid(`an ${signal.type} carries no candidate`);
      break;
    case 'candidate': {
      // An empty candidate string is allowed: it is how a peer says end-of-candidates.
      if (!signal.candidate) return invalid('a candidate needs signal.candidate');
      if (signal.sdp !== '') return invalid('a candidate carries no sdp');
      const c = signal.candidate;
      if (exceedsBytes(c.candidate + (c.sdpMid ?? '') + (c.usernameFragment ?? ''), limits.SIGNAL_MAX_CANDIDATE_BYTES)) {
        return { code: 'message_too_large', message: `signal.candidate is larger than ${limits.SIGNAL_MAX_CANDIDATE_BYTES} bytes` };
      }
      break;
    }
    case 'ice-restart':
      // Either a request to the other side to restart (no sdp) or the restart offer itself.
      if (signal.candidate) return invalid('an ice-restart carries no candidate');
      break;
  }
  return undefined;
}
