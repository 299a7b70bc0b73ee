import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Links to a stored file that work until they expire: `?expires=<unix s>&signature=<HMAC-SHA256
 * of key and expiry>`. The media service signs them (local recording storage), the gateway
 * checks them before serving the file; both hold the same secret.
 */
export function linkSignature(secret: string, key: string, expires: number): string {
  return createHmac('sha256', secret).update(`${key}\n${expires}`).digest('base64url');
}

export function verifyLinkSignature(secret: string, key: string, expires: number, signature: string, now: Date): boolean {
  if (!Number.isInteger(expires) || expires * 1000 < now.getTime()) return false;
  const want = Buffer.from(linkSignature(secret, key, expires));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}
