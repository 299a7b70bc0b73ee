import { type Clock, ServiceError, systemClock } from '@lessoncall/kit';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWSAlgorithm,
  jwtVerify,
  type JWTVerifyOptions,
} from 'jose';
import { type GatewayConfig, parseBookingJwks } from '../config';
import { devIssuerKid, isDemoUser } from './dev';

/** A Supabase user, or the booking system with its own key (BOOKING_CLIENT_ID). */
export type Role = 'authenticated' | 'booking_system';

/** Who a verified access token speaks for. */
export interface Identity {
  /** The token's `sub`: a Supabase user id (uuid). Empty for the booking system; check `role` before using it as a user. */
  userId: string;
  role: Role;
  email?: string;
  claims: JWTPayload;
}

export interface TokenVerifier {
  /** Throws ServiceError `unauthenticated` / `token_expired` (or `unavailable` when the JWKS cannot be fetched). */
  verify(token: string): Promise<Identity>;
}

/** The legacy Supabase secret signs HS256 only. */
const symmetricAlgorithms: JWSAlgorithm[] = ['HS256'];
/** What Supabase's asymmetric signing keys use. An HS* token never reaches the JWKS path, so a public key is never used as an HMAC secret. */
const asymmetricAlgorithms: JWSAlgorithm[] = ['ES256', 'RS256', 'EdDSA', 'Ed25519'];

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuid.test(value);
}

function unauthenticated(message: string, cause?: unknown): ServiceError {
  return new ServiceError('unauthenticated', message, {}, cause === undefined ? undefined : { cause });
}

/**
 * Verifies Supabase access tokens with jose: signature (JWKS of the project, cached and
 * refreshed on an unknown `kid`, or the HS256 secret), `exp`, `aud`, `iss`, and the `role`.
 * The algorithm set is pinned per key kind, so `alg: none` and HS/RS confusion fail.
 */
export function createTokenVerifier(config: GatewayConfig, clock: Clock = systemClock): TokenVerifier {
  // Imported once: jose would import raw secret bytes again on every verification.
  const secret = config.JWT_SECRET
    ? globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(config.JWT_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    : undefined;
  const devSecret =
    config.DEV_ISSUER_ENABLED && config.DEV_ISSUER_SECRET
      ? globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(config.DEV_ISSUER_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      : undefined;
  const jwks = config.JWT_JWKS_URL
    ? createRemoteJWKSet(new URL(config.JWT_JWKS_URL), {
        cacheMaxAge: config.JWKS_CACHE_MAX_AGE_MS,
        cooldownDuration: config.JWKS_COOLDOWN_MS,
        timeoutDuration: config.JWKS_TIMEOUT_MS,
      })
    : undefined;
  // The booking system's own keys: a token whose `iss` is its client id is checked against them
  // and nothing else, so neither the project's secret nor Supabase's keys can make one.
  const booking =
    config.BOOKING_CLIENT_ID && config.BOOKING_JWKS
      ? { clientId: config.BOOKING_CLIENT_ID, keys: createLocalJWKSet(parseBookingJwks(config.BOOKING_JWKS) as unknown as JSONWebKeySet) }
      : undefined;
  const claimOptions: JWTVerifyOptions = {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockTolerance: config.JWT_CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['exp'],
  };

  async function verifySignatureAndClaims(token: string): Promise<{ claims: JWTPayload; bookingSystem: boolean }> {
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch (err) {
      throw unauthenticated('malformed access token', err);
    }
    if (!alg || alg === 'none') throw unauthenticated('unsigned access token');
    if (booking && decodeJwt(token).iss === booking.clientId) return { claims: await verifyBookingSystem(token, alg, booking), bookingSystem: true };
    if (kid === devIssuerKid) {
      // The local dev issuer's own key, and only for the two demo users.
      if (!devSecret) throw unauthenticated('the dev issuer is not enabled here');
      const { payload } = await jwtVerify(token, await devSecret, { ...claimOptions, algorithms: symmetricAlgorithms, currentDate: clock.now() });
      if (payload.role !== 'authenticated' || !isDemoUser(payload.sub)) throw unauthenticated('the dev issuer signs for the demo users only');
      return { claims: payload, bookingSystem: false };
    }
    if (symmetricAlgorithms.includes(alg as JWSAlgorithm)) {
      if (!secret) throw unauthenticated(`access tokens signed with ${alg} are not accepted`);
      const { payload } = await jwtVerify(token, await secret, { ...claimOptions, algorithms: symmetricAlgorithms, currentDate: clock.now() });
      return { claims: payload, bookingSystem: false };
    }
    if (asymmetricAlgorithms.includes(alg as JWSAlgorithm) && jwks) {
      const { payload } = await jwtVerify(token, jwks, { ...claimOptions, algorithms: asymmetricAlgorithms, currentDate: clock.now() });
      return { claims: payload, bookingSystem: false };
    }
    throw unauthenticated(`access tokens signed with ${alg} are not accepted`);
  }

  async function verifyBookingSystem(token: string, alg: string, b: { clientId: string; keys: ReturnType<typeof createLocalJWKSet> }): Promise<JWTPayload> {
    if (!asymmetricAlgorithms.includes(alg as JWSAlgorithm)) throw unauthenticated(`the booking system signs with its own key pair, not ${alg}`);
    const { payload } = await jwtVerify(token, b.keys, {
      issuer: b.clientId,
      subject: b.clientId,
      audience: config.BOOKING_AUDIENCE,
      algorithms: asymmetricAlgorithms,
      clockTolerance: config.JWT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'iat'],
      maxTokenAge: config.BOOKING_TOKEN_MAX_TTL_SECONDS,
      currentDate: clock.now(),
    });
    if (typeof payload.exp === 'number' && typeof payload.iat === 'number' && payload.exp - payload.iat > config.BOOKING_TOKEN_MAX_TTL_SECONDS)
      throw unauthenticated(`a booking system token may live ${config.BOOKING_TOKEN_MAX_TTL_SECONDS} s at most`);
    return payload;
  }

  // A client sends the same token with every request until it refreshes it: verified tokens are
  // remembered for a short while (never past their exp), so the signature is checked once.
  const cache = new Map<string, { identity: Identity; until: number }>();
  const remember = (token: string, identity: Identity): void => {
    if (config.JWT_CACHE_TTL_MS === 0) return;
    const exp = typeof identity.claims.exp === 'number' ? identity.claims.exp * 1000 : 0;
    const until = Math.min(exp, clock.now().getTime() + config.JWT_CACHE_TTL_MS);
    if (cache.size >= config.JWT_CACHE_MAX_ENTRIES) {
      for (const key of cache.keys()) {
        cache.delete(key);
        if (cache.size < config.JWT_CACHE_MAX_ENTRIES * 0.9) break;
      }
    }
    cache.set(token, { identity, until });
  };

  return {
    async verify(token) {
      const hit = cache.get(token);
      if (hit) {
        if (clock.now().getTime() < hit.until) return hit.identity;
        cache.delete(token);
      }
      let verified: { claims: JWTPayload; bookingSystem: boolean };
      try {
        verified = await verifySignatureAndClaims(token);
      } catch (err) {
        throw toServiceError(err);
      }
      const { claims } = verified;
      if (verified.bookingSystem) {
        const identity: Identity = { userId: '', role: 'booking_system', claims };
        remember(token, identity);
        return identity;
      }
      const role = claims.role;
      if (role === 'service_role')
        throw unauthenticated('service_role tokens are not accepted: the booking system signs its own tokens (BOOKING_CLIENT_ID) or uses NATS');
      if (role !== 'authenticated') throw unauthenticated(`role ${JSON.stringify(role ?? null)} is not accepted`);
      if (!isUuid(claims.sub)) throw unauthenticated('sub must be a user id (uuid)');
      const email = typeof claims.email === 'string' && claims.email ? claims.email : undefined;
      const identity: Identity = { userId: claims.sub.toLowerCase(), role, ...(email ? { email } : {}), claims };
      remember(token, identity);
      return identity;
    },
  };
}

function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  if (err instanceof errors.JWTExpired) return new ServiceError('token_expired', 'access token expired', {}, { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) return unauthenticated(`access token ${err.claim} claim rejected: ${err.reason}`, err);
  if (err instanceof errors.JWKSTimeout)
    return new ServiceError('unavailable', 'signing keys could not be fetched in time', { retryAfterSeconds: 2 }, { cause: err });
  if (err instanceof errors.JOSEError) return unauthenticated(`access token rejected (${err.code})`, err);
  // A JWKS fetch that failed at the transport level: not the caller's fault, retryable.
  return new ServiceError('unavailable', 'signing keys could not be fetched', { retryAfterSeconds: 2 }, { cause: err });
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return match?.[1];
}
