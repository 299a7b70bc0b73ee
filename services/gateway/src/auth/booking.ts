import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/**
 * The booking system's credential for the REST API: a short-lived JWT it signs with its own
 * key pair (`iss` and `sub` = its client id, `aud` = BOOKING_AUDIENCE). The gateway holds only
 * the public keys (BOOKING_JWKS), so the credential works whatever verifies users' tokens (the
 * project's JWKS or its HS256 secret) and needs neither. This is what the booking system does;
 * tests, drills and the stand-in in tools/booking-system sign with it.
 */
export interface BookingSystemKey {
  clientId: string;
  kid: string;
  privateKey: CryptoKey;
  /** BOOKING_JWKS: the public half, as the gateway's config takes it. */
  jwks: { keys: JWK[] };
}

export async function newBookingSystemKey(clientId = 'booking-system', kid = `booking-${Date.now().toString(36)}`): Promise<BookingSystemKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { clientId, kid, privateKey, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] } };
}

export function signBookingSystemToken(
  key: Pick<BookingSystemKey, 'clientId' | 'kid' | 'privateKey'>,
  options: { audience?: string; expiresInSeconds?: number; issuer?: string; subject?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? key.clientId)
    .setSubject(options.subject ?? key.clientId)
    .setAudience(options.audience ?? 'lessoncall')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 300))
    .sign(key.privateKey);
}
