import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { GatewayConfig } from '../config';

export interface DemoUser {
  userId: string;
  displayName: string;
  userType: 'tutor' | 'student';
}

/** The local demo identities; the start script's demo booking uses the same ids. */
export const demoUsers: Record<'tutor' | 'student', DemoUser> = {
  tutor: { userId: '11111111-1111-4111-8111-111111111111', displayName: 'Demo Tutor', userType: 'tutor' },
  student: { userId: '22222222-2222-4222-8222-222222222222', displayName: 'Demo Student', userType: 'student' },
};

/** The `kid` of tokens the dev issuer signs: the verifier checks them with DEV_ISSUER_SECRET, for demo users only. */
export const devIssuerKid = 'lessoncall-dev-issuer';

export function isDemoUser(userId: unknown): boolean {
  return userId === demoUsers.tutor.userId || userId === demoUsers.student.userId;
}

export interface DevTokenOptions {
  userId: string;
  /** `authenticated` by default; tests sign others (`service_role`, `anon`) to see them refused. */
  role?: string;
  email?: string;
  displayName?: string;
  expiresInSeconds?: number;
}

/** The dev issuer: a token for one of the two demo users, signed with its own secret. */
export function signDemoToken(
  config: Pick<GatewayConfig, 'DEV_ISSUER_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'DEV_TOKEN_TTL_SECONDS'>,
  as: 'tutor' | 'student',
): Promise<string> {
  if (!config.DEV_ISSUER_SECRET) throw new Error('signDemoToken needs DEV_ISSUER_SECRET');
  const user = demoUsers[as];
  return sign(
    config.DEV_ISSUER_SECRET,
    config,
    { userId: user.userId, displayName: user.displayName, expiresInSeconds: config.DEV_TOKEN_TTL_SECONDS },
    devIssuerKid,
  );
}

/**
 * Signs an access token of the shape Supabase issues (HS256 with the project secret), as
 * Supabase Auth would: for tests, benchmarks and the local stack's scripts, which stand in
 * for Supabase. Needs JWT_SECRET. Not served by the gateway.
 */
export async function signDevToken(
  config: Pick<GatewayConfig, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'> & Partial<Pick<GatewayConfig, 'DEV_TOKEN_TTL_SECONDS'>>,
  options: DevTokenOptions,
): Promise<string> {
  if (!config.JWT_SECRET) throw new Error('signDevToken needs JWT_SECRET');
  return sign(config.JWT_SECRET, config, options);
}

async function sign(
  secret: string,
  config: Pick<GatewayConfig, 'JWT_ISSUER' | 'JWT_AUDIENCE'> & Partial<Pick<GatewayConfig, 'DEV_TOKEN_TTL_SECONDS'>>,
  options: DevTokenOptions,
  kid?: string,
): Promise<string> {
  const role = options.role ?? 'authenticated';
  const ttl = options.expiresInSeconds ?? config.DEV_TOKEN_TTL_SECONDS ?? 3600;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    role,
    ...(options.email ? { email: options.email } : {}),
    aal: 'aal1',
    session_id: randomUUID(),
    is_anonymous: false,
    app_metadata: { provider: 'dev' },
    user_metadata: options.displayName ? { full_name: options.displayName } : {},
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) })
    .setSubject(options.userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(new TextEncoder().encode(secret));
}
