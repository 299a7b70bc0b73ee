import { ManualClock } from '@lessoncall/kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GatewayConfig, loadGatewayConfig } from '../config';
import { SignJWT } from 'jose';
import { type BookingSystemKey, newBookingSystemKey, signBookingSystemToken } from './booking';
import { signDevToken } from './dev';
import { bearerToken, createTokenVerifier } from './verify';

const config = {
  JWT_SECRET: 's'.repeat(40),
  JWT_ISSUER: 'http://127.0.0.1/auth/v1',
  JWT_AUDIENCE: 'authenticated',
  JWT_CLOCK_TOLERANCE_SECONDS: 30,
  JWKS_CACHE_MAX_AGE_MS: 600_000,
  JWKS_COOLDOWN_MS: 30_000,
  JWKS_TIMEOUT_MS: 5_000,
  DEV_TOKEN_TTL_SECONDS: 3_600,
  JWT_CACHE_TTL_MS: 60_000,
  JWT_CACHE_MAX_ENTRIES: 100,
} as GatewayConfig;

describe('bearerToken', () => {
  it('takes the token of a Bearer header, any case, and nothing else', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer   abc.def.ghi ')).toBe('abc.def.ghi');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(bearerToken('Basic dXNlcjpwdw==')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
  });
});

describe('signDevToken and the verifier', () => {
  it('signs tokens of the Supabase shape that the verifier accepts', async () => {
    const verifier = createTokenVerifier(config);
    const token = await signDevToken(config, { userId: '11111111-1111-4111-8111-111111111111', email: 't@example.com', displayName: 'Demo Tutor' });
    const identity = await verifier.verify(token);
    expect(identity).toMatchObject({ userId: '11111111-1111-4111-8111-111111111111', role: 'authenticated', email: 't@example.com' });
    expect(identity.claims).toMatchObject({ aud: 'authenticated', iss: config.JWT_ISSUER, user_metadata: { full_name: 'Demo Tutor' } });
  });

  it('reports expiry as token_expired and everything else as unauthenticated', async () => {
    const verifier = createTokenVerifier(config);
    const expired = await signDevToken(config, { userId: '11111111-1111-4111-8111-111111111111', expiresInSeconds: -120 });
    await expect(verifier.verify(expired)).rejects.toMatchObject({ code: 'token_expired' });
    await expect(verifier.verify('x')).rejects.toMatchObject({ code: 'unauthenticated' });
    const notAUser = await signDevToken(config, { userId: 'booking-system' });
    await expect(verifier.verify(notAUser)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});

describe('the verified-token cache', () => {
  it('remembers a token for a while, never past its exp, and never remembers a failure', async () => {
    const clock = new ManualClock(new Date());
    const verifier = createTokenVerifier(config, clock);
    const token = await signDevToken(config, { userId: '11111111-1111-4111-8111-111111111111', expiresInSeconds: 600 });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    clock.advance(61_000);
    const again = await verifier.verify(token);
    expect(again).not.toBe(first);
    expect(again.userId).toBe(first.userId);
    // Past exp (and the tolerance) the cached entry does not keep it alive.
    clock.advance(600_000);
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'token_expired' });
    const tampered = `${token.slice(0, -2)}AA`;
    await expect(verifier.verify(tampered)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('stays bounded', async () => {
    const verifier = createTokenVerifier(config);
    for (let i = 0; i < 150; i++) {
      const userId = `11111111-1111-4111-8111-${String(i).padStart(12, '0')}`;
      await verifier.verify(await signDevToken(config, { userId }));
    }
    // No observable size; what matters is that it keeps answering correctly past its bound.
    const token = await signDevToken(config, { userId: '22222222-2222-4222-8222-222222222222' });
    expect((await verifier.verify(token)).userId).toBe('22222222-2222-4222-8222-222222222222');
  });
});

describe("the booking system's own credential (issue 18, item 8)", () => {
  let key: BookingSystemKey;
  let other: BookingSystemKey;
  const withBooking = (base: Partial<GatewayConfig>) =>
    ({
      ...config,
      ...base,
      BOOKING_CLIENT_ID: key.clientId,
      BOOKING_JWKS: JSON.stringify(key.jwks),
      BOOKING_AUDIENCE: 'lessoncall',
      BOOKING_TOKEN_MAX_TTL_SECONDS: 3600,
    }) as GatewayConfig;
  const hsMode = () => withBooking({});
  // JWKS mode: no project secret at all; the project's keys are never fetched for a booking token.
  const jwksMode = () => withBooking({ JWT_SECRET: undefined, JWT_JWKS_URL: 'http://127.0.0.1:9/never-fetched.json' });

  beforeAll(async () => {
    key = await newBookingSystemKey('booking-platform');
    other = await newBookingSystemKey('booking-platform', key.kid);
  });

  it('is accepted, as the booking system and no user, in HS256 mode and in JWKS mode', async () => {
    for (const mode of [hsMode(), jwksMode()]) {
      const identity = await createTokenVerifier(mode).verify(await signBookingSystemToken(key));
      expect(identity).toMatchObject({ role: 'booking_system', userId: '' });
    }
  });

  it('is checked by client id: another issuer or subject, another audience, another key are refused', async () => {
    const verifier = createTokenVerifier(jwksMode());
    const refused = async (token: Promise<string>) => expect(verifier.verify(await token)).rejects.toMatchObject({ code: 'unauthenticated' });
    // Same kid, same client id, a key the gateway does not hold.
    await refused(signBookingSystemToken(other));
    await refused(signBookingSystemToken(key, { subject: 'someone-else' }));
    await refused(signBookingSystemToken(key, { audience: 'authenticated' }));
    // Signed by the booking key but claiming to be the project: checked against the project's keys, which never signed it.
    await expect(createTokenVerifier(hsMode()).verify(await signBookingSystemToken(key, { issuer: config.JWT_ISSUER }))).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    // Long-lived tokens are not assertions.
    await refused(signBookingSystemToken(key, { expiresInSeconds: 7200 }));
    await expect(verifier.verify(await signBookingSystemToken(key, { expiresInSeconds: -120 }))).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('cannot be made with the project secret: an HS256 token with its client id is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(key.clientId)
      .setSubject(key.clientId)
      .setAudience('lessoncall')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode(config.JWT_SECRET));
    await expect(createTokenVerifier(hsMode()).verify(forged)).rejects.toMatchObject({
      code: 'unauthenticated',
      message: expect.stringMatching(/own key pair/),
    });
  });

  it('refuses to start with a client id and no keys, keys and no client id, or a JWKS that is not public keys', async () => {
    const base = { JWT_SECRET: 'x'.repeat(32), JWT_ISSUER: 'test' };
    const jwks = JSON.stringify(key.jwks);
    expect(loadGatewayConfig({ ...base, BOOKING_CLIENT_ID: 'booking', BOOKING_JWKS: jwks }).BOOKING_CLIENT_ID).toBe('booking');
    expect(() => loadGatewayConfig({ ...base, BOOKING_CLIENT_ID: 'booking' })).toThrow(/go together/);
    expect(() => loadGatewayConfig({ ...base, BOOKING_JWKS: jwks })).toThrow(/go together/);
    const privateJwk = { ...key.jwks.keys[0], d: 'secret' };
    for (const bad of ['not json', '{"keys":[]}', JSON.stringify({ keys: [privateJwk] }), JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })]) {
      expect(() => loadGatewayConfig({ ...base, BOOKING_CLIENT_ID: 'booking', BOOKING_JWKS: bad })).toThrow(
        /BOOKING_JWKS must be a JWKS document of public keys/,
      );
    }
  });

  it("refuses Supabase's service_role tokens, configured or not, and a user token claiming role booking_system", async () => {
    const serviceRole = await signDevToken(config, { userId: 'booking-system', role: 'service_role' });
    for (const mode of [config, hsMode()]) {
      await expect(createTokenVerifier(mode).verify(serviceRole)).rejects.toMatchObject({
        code: 'unauthenticated',
        message: expect.stringMatching(/service_role/),
      });
    }
    const posing = await signDevToken(config, { userId: '11111111-1111-4111-8111-111111111111', role: 'booking_system' });
    await expect(createTokenVerifier(hsMode()).verify(posing)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
