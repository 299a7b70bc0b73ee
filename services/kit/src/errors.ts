import { type ErrorCodeName, errorCodeNames, isErrorCodeName, type ServiceError as ServiceErrorMessage } from '@lessoncall/proto';

// The code list lives in the proto package, which the web app imports too.
export { type ErrorCodeName, errorCodeNames, isErrorCodeName };

/** The HTTP status each code maps to at the gateway (RFC 9457 problem responses). */
export const httpStatusOf: Record<ErrorCodeName, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  token_expired: 401,
  token_revoked: 401,
  forbidden: 403,
  not_a_participant: 403,
  not_in_meeting: 403,
  passcode_invalid: 403,
  resume_rejected: 403,
  not_tutor: 403,
  removed_from_meeting: 403,
  meeting_not_found: 404,
  session_not_found: 404,
  meeting_not_started: 409,
  meeting_ended: 409,
  meeting_cancelled: 409,
  meeting_full: 409,
  not_sfu: 409,
  recording_not_found: 404,
  conflict: 409,
  message_too_large: 413,
  board_full: 413,
  board_locked: 423,
  passcode_locked: 423,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  sfu_unavailable: 503,
};

export interface ServiceErrorDetails {
  field?: string;
  retryAfterSeconds?: number;
  attemptsLeft?: number;
  meetingId?: string;
  subject?: string;
}

/**
 * A failure a caller handles by its code. Services throw it; `serve` answers it over NATS
 * with Nats-Service-Error-Code and a ServiceError body; `request` turns that back into this.
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: ErrorCodeName;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly attemptsLeft: number | undefined;
  readonly meetingId: string | undefined;
  readonly subject: string | undefined;

  constructor(code: ErrorCodeName, message: string, details: ServiceErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.field = details.field;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.attemptsLeft = details.attemptsLeft;
    this.meetingId = details.meetingId;
    this.subject = details.subject;
  }

  get status(): number {
    return httpStatusOf[this.code];
  }

  toMessage(): Omit<ServiceErrorMessage, '$typeName' | '$unknown'> {
    return {
      code: this.code,
      message: this.message,
      field: this.field ?? '',
      retryAfterSeconds: this.retryAfterSeconds ?? 0,
      ...(this.attemptsLeft === undefined ? {} : { attemptsLeft: this.attemptsLeft }),
    };
  }

  static fromMessage(m: ServiceErrorMessage, subject?: string): ServiceError {
    const code = isErrorCodeName(m.code) ? m.code : 'internal';
    return new ServiceError(code, m.message, {
      field: m.field || undefined,
      retryAfterSeconds: m.retryAfterSeconds || undefined,
      attemptsLeft: m.attemptsLeft,
      subject,
    });
  }
}

export function invalidRequest(field: string, message: string): ServiceError {
  return new ServiceError('invalid_request', message, { field });
}

/** A service did not answer: nobody listening, or not in time. Retryable. */
export class ServiceUnavailableError extends ServiceError {
  readonly reason: 'no_responders' | 'timeout' | 'disconnected';
  constructor(subject: string, reason: 'no_responders' | 'timeout' | 'disconnected', options?: ErrorOptions) {
    super('unavailable', `no answer on ${subject} (${reason})`, { subject, retryAfterSeconds: 2 }, options);
    this.reason = reason;
  }
}
