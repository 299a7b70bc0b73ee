import { createHmac, randomBytes } from 'node:crypto';

/**
 * A Janus core token (`token_auth` with `token_auth_secret`): `<expiry>,janus,<plugins>:<sig>`,
 * sig = base64(HMAC-SHA1(secret, `<expiry>,janus,<plugins>`)). Without one, a client cannot open a
 * session on the node at all; with one, only the plugins it names, until it expires.
 */
export function signedJanusToken(
  secret: string,
  now: Date,
  ttlSeconds: number,
  plugins: readonly string[] = ['janus.plugin.videoroom'],
): {
  token: string;
  expiresAt: Date;
} {
  const expiry = Math.floor(now.getTime() / 1000) + ttlSeconds;
  const data = `${expiry},janus,${plugins.join(',')}`;
  const signature = createHmac('sha1', secret).update(data).digest('base64');
  return { token: `${data}:${signature}`, expiresAt: new Date(expiry * 1000) };
}

/** A VideoRoom join token (an entry of the room's `allowed` list): unguessable, one per session. */
export function roomJoinToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * A room's secret: what every change of the room (allowed, kick, destroy) must carry. Derived
 * from the service's key and the meeting, so that a room left on a node by a transaction that
 * did not commit can still be destroyed; nobody without the key can compute it.
 */
export function roomSecret(key: string, meetingId: string): string {
  return createHmac('sha256', key).update(`videoroom-secret:${meetingId}`).digest('base64url');
}
