import { invalidRequest } from '@lessoncall/kit';
import { isSubjectToken, isValidJoinKey, isValidMeetingId, sessionIdPattern } from '@lessoncall/proto';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function meetingId(value: string, field = 'meetingId'): string {
  if (!isValidMeetingId(value)) throw invalidRequest(field, 'not a meeting id');
  return value;
}

/** A Supabase user id, as the gateway takes it from the token's `sub`. */
export function userId(value: string, field = 'userId'): string {
  if (!uuidPattern.test(value)) throw invalidRequest(field, 'not a user id (uuid)');
  return value.toLowerCase();
}

export function sessionId(value: string, field = 'sessionId'): string {
  if (!sessionIdPattern.test(value)) throw invalidRequest(field, 'not a session id');
  return value;
}

/** Empty when the gateway did not say which replica it is. */
export function gatewayId(value: string): string | null {
  if (value === '') return null;
  if (!isSubjectToken(value) || value.length > 64) throw invalidRequest('gatewayId', 'not a gateway id');
  return value;
}

/** A client's join key (JoinRequest.join_key); empty: the join has none. */
export function joinKey(value: string): string {
  if (value !== '' && !isValidJoinKey(value)) throw invalidRequest('joinKey', 'a join key is 1 to 128 visible ASCII characters');
  return value;
}
