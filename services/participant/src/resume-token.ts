import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Resume tokens: HMAC-SHA256(secret, sessionId), base64url. The client gets the token once, at
 * join; the database keeps only its SHA-256, so a leaked row cannot be replayed, and a rotated
 * secret does not invalidate sessions that are already live.
 */
export function mintResumeToken(secret: string, sessionId: string): string {
  return createHmac('sha256', secret).update(sessionId).digest('base64url');
}

export function hashResumeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of a presented token with the stored hash. */
export function resumeTokenMatches(token: string, storedHash: string | null): boolean {
  if (!storedHash || token.length === 0) return false;
  const presented = Buffer.from(hashResumeToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
