import { createHash, createHmac } from 'node:crypto';

/**
 * Resume tokens: HMAC-SHA256(secret, sessionId), base64url. The client gets the token once, at
 * join; the database keeps only its SHA-256 (participant_resume compares digests), so a leaked
 * row cannot be replayed, and a rotated secret does not invalidate sessions that are already live.
 */
export function mintResumeToken(secret: string, sessionId: string): string {
  return createHmac('sha256', secret).update(sessionId).digest('base64url');
}

/**
 * The session id of a keyed join: HMAC-SHA256(secret, meeting, user, key), 22 base64url
 * characters (128 bits) like a random one. The same join repeated gets the same id (so the same
 * resume token); nobody without the secret can predict it from a key.
 */
export function sessionIdForJoinKey(secret: string, meetingId: string, userId: string, joinKey: string): string {
  return createHmac('sha256', secret).update(`join-key\0${meetingId}\0${userId}\0${joinKey}`).digest('base64url').slice(0, 22);
}

export function hashResumeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
