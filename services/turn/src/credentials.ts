import { createHmac } from 'node:crypto';

export interface TurnRestCredential {
  /** `<expiry unix seconds>:<userId>`: coturn reads the expiry from the username. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)), what coturn's use-auth-secret recomputes. */
  credential: string;
  expiresAt: Date;
}

/**
 * A TURN REST API credential (draft-uberti-behave-turn-rest, coturn's `use-auth-secret`).
 * Expiry is whole seconds, rounded down, so that the username and expiresAt agree.
 */
export function turnRestCredential(secret: string, userId: string, now: Date, ttlSeconds: number): TurnRestCredential {
  const expiry = Math.floor(now.getTime() / 1000) + ttlSeconds;
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: new Date(expiry * 1000) };
}
