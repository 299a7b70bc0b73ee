import { createHash, createHmac } from 'node:crypto';

/**
 * Resume tokens: HMAC-SHA256(secret, sessionId), base64url. The client gets the token once, at
 * join; the database keeps only its SHA-256 (participant_resume compares digests), so a leaked
 * row cannot be replayed, and a rotated secret does not invalidate sessions that are already live.
 */
export function mintResumeToken(secret: string, sessionId: string): string {
  return createHmac('sha256', secret).update(sessionId).digest('base64url');
}

export function hashResumeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
