import { type Clock, ServiceError, systemClock } from '@lessoncall/kit';
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, type JWSAlgorithm, jwtVerify, type JWTVerifyOptions } from 'jose';
import type { GatewayConfig } from '../config';
import { devIssuerKid, isDemoUser } from './dev';

export type Role = 'authenticated' | 'service_role';

/** Who a verified access token speaks for. */
export interface Identity {
  /**
   * The token's `sub`: a Supabase user id (uuid). Empty for a service credential that has no
   * uuid `sub` (Supabase's service key has none); check `role` before using it as a user.
   */
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
  const claimOptions: JWTVerifyOptions = {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockTolerance: config.JWT_CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['exp'],
  };

  async function verifySignatureAndClaims(token: string): Promise<JWTPayload> {
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch (err) {
      throw unauthenticated('malformed access token', err);
    }
    if (!alg || alg === 'none') throw unauthenticated('unsigned access token');
    if (kid === devIssuerKid) {
      // The local dev issuer's own key, and only for the two demo users.
      if (!devSecret) throw unauthenticated('the dev issuer is not enabled here');
      const { payload } = await jwtVerify(token, await devSecret, { ...claimOptions, algorithms: symmetricAlgorithms, currentDate: clock.now() });
      if (payload.role !== 'authenticated' || !isDemoUser(payload.sub)) throw unauthenticated('the dev issuer signs for the demo users only');
      return payload;
    }
    if (symmetricAlgorithms.includes(alg as JWSAlgorithm)) {
      if (!secret) throw unauthenticated(`access tokens signed with ${alg} are not accepted`);
      return (await jwtVerify(token, await secret, { ...claimOptions, algorithms: symmetricAlgorithms, currentDate: clock.now() })).payload;
    }
    if (asymmetricAlgorithms.includes(alg as JWSAlgorithm) && jwks) {
      return (await jwtVerify(token, jwks, { ...claimOptions, algorithms: asymmetricAlgorithms, currentDate: clock.now() })).payload;
    }
    throw unauthenticated(`access tokens signed with ${alg} are not accepted`);
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
      let claims: JWTPayload;
      try {
        claims = await verifySignatureAndClaims(token);
      } catch (err) {
        throw toServiceError(err);
      }
      const role = claims.role;
      if (role !== 'authenticated' && role !== 'service_role') throw unauthenticated(`role ${JSON.stringify(role ?? null)} is not accepted`);
      if (role === 'authenticated' && !isUuid(claims.sub)) throw unauthenticated('sub must be a user id (uuid)');
      const email = typeof claims.email === 'string' && claims.email ? claims.email : undefined;
      const identity: Identity = { userId: isUuid(claims.sub) ? claims.sub.toLowerCase() : '', role, ...(email ? { email } : {}), claims };
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
