import { ManualClock } from '@lessoncall/kit';
import { describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../config';
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
    const service = await signDevToken(config, { userId: 'booking-system', role: 'service_role' });
    expect(await verifier.verify(service)).toMatchObject({ role: 'service_role', userId: '' });
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
