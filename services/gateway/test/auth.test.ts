import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createLogger, servePartial } from '@lessoncall/kit';
import { freePort, type Harness, setup } from '@lessoncall/kit/testing';
import { MeetingService } from '@lessoncall/proto';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, call, demoTutorId, startTestGateway, type TestGateway } from './helpers';

const user = demoTutorId;
const issuer = 'https://project.supabase.co/auth/v1';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A Supabase-shaped claim set; tests override one thing at a time. */
const claims = (overrides: JWTPayload = {}): JWTPayload => ({
  sub: user,
  role: 'authenticated',
  aud: 'authenticated',
  iss: issuer,
  iat: now(),
  exp: now() + 600,
  email: 'tutor@example.com',
  ...overrides,
});

function hs256(secret: string | Uint8Array, payload: JWTPayload, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The one authenticated endpoint every test calls: user or service, answered by a stand-in meeting service on real NATS. */
async function whoAmI(gw: TestGateway, token: string | undefined, authorization?: string): Promise<ApiResponse> {
  return call(gw.url, 'GET', '/api/video/meetings?bookingId=bk-1', {
    headers: authorization ? { authorization } : token ? { authorization: `Bearer ${token}` } : {},
  });
}

function expect401(res: ApiResponse, code = 'unauthenticated') {
  expect(res.status, res.text).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe(code);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="lessoncall"/);
}

let h: Harness;
let hsGateway: TestGateway;
let secret: string;

beforeAll(async () => {
  h = await setup();
  await servePartial(
    h.nc,
    MeetingService,
    {
      // Echoes who the gateway says is asking: the token's subject, never a client's claim.
      findMeetingByBooking: async (req) => ({
        meeting: { meetingId: 'MID-AAAAAAAAAAAAAAAA', bookingId: req.bookingId, tutorId: req.userId, title: String(req.actorIsService) },
      }),
    },
    { logger: createLogger('stand-in', { level: 'silent' }) },
  );
  hsGateway = await startTestGateway(h, { JWT_ISSUER: issuer });
  secret = hsGateway.config.JWT_SECRET!;
});

afterAll(async () => {
  await hsGateway?.stop();
  await h?.cleanup();
});

describe('HS256 (the legacy Supabase secret)', () => {
  it('accepts a valid access token; the user is its subject', async () => {
    const res = await whoAmI(hsGateway, hs256(secret, claims()));
    expect(res.status, res.text).toBe(200);
    expect(res.body.meeting).toMatchObject({ tutorId: user, title: 'false' });
    const dev = await whoAmI(hsGateway, await hsGateway.tokenFor(user));
    expect(dev.status).toBe(200);
  });

  it('refuses a missing, malformed or non-Bearer credential', async () => {
    expect401(await whoAmI(hsGateway, undefined));
    expect401(await whoAmI(hsGateway, undefined, `Basic ${Buffer.from('a:b').toString('base64')}`));
    expect401(await whoAmI(hsGateway, 'not-a-jwt'));
    expect401(await whoAmI(hsGateway, 'a.b.c'));
  });

  it('refuses alg none and tokens signed with another secret', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
    expect401(await whoAmI(hsGateway, none));
    const noneUpper = `${b64({ alg: 'NONE', typ: 'JWT' })}.${b64(claims())}.`;
    expect401(await whoAmI(hsGateway, noneUpper));
    expect401(await whoAmI(hsGateway, hs256('another-secret-of-at-least-32-characters', claims())));
    expect401(await whoAmI(hsGateway, hs256(secret, claims(), { alg: 'HS512', typ: 'JWT' })));
  });

  it('refuses expired tokens with token_expired, and wrong audience, issuer, role or subject', async () => {
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ iat: now() - 7200, exp: now() - 3600 }))), 'token_expired');
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ aud: 'anon' }))));
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ iss: 'https://other.supabase.co/auth/v1' }))));
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ role: 'anon' }))));
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ role: undefined }))));
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ sub: 'not-a-uuid' }))));
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ exp: undefined }))));
    expect401(await whoAmI(hsGateway, hs256(secret, claims({ nbf: now() + 3600 }))));
  });

  it("refuses a service_role token signed with the project secret: that is not the booking system's credential", async () => {
    const serviceRole = hs256(secret, claims({ role: 'service_role', sub: undefined, email: undefined }));
    expect401(await whoAmI(hsGateway, serviceRole));
    expect((await whoAmI(hsGateway, serviceRole)).body.detail).toMatch(/service_role tokens are not accepted/);
  });

  it("takes the booking system's own token (its key, its client id) on the endpoints it may use only", async () => {
    const service = await hsGateway.serviceToken();
    const res = await whoAmI(hsGateway, service);
    expect(res.status, res.text).toBe(200);
    expect(res.body.meeting).toMatchObject({ tutorId: '', title: 'true' });
    const join = await call(hsGateway.url, 'POST', '/api/video/meetings/MID-AAAAAAAAAAAAAAAA/join', { token: service, body: { passcode: '123456' } });
    expect(join.status).toBe(403);
    expect(join.body.code).toBe('forbidden');
    // Another gateway's booking key (another booking system) is not this one's.
    const elsewhere = await startTestGateway(h, { JWT_ISSUER: issuer });
    try {
      expect401(await whoAmI(hsGateway, await elsewhere.serviceToken()));
    } finally {
      await elsewhere.stop();
    }
  });
});

describe('JWKS (asymmetric signing keys)', () => {
  let jwksServer: Server;
  let jwksUrl: string;
  let keys: JWK[] = [];
  let fetches = 0;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let ec: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwksGateway: TestGateway;
  let bothGateway: TestGateway;

  const signWith = (key: Parameters<SignJWT['sign']>[0], alg: string, kid: string, payload: JWTPayload = claims()) =>
    new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256', { extractable: true });
    ec = await generateKeyPair('ES256', { extractable: true });
    keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    jwksServer = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => jwksServer.listen(port, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`;
    [jwksGateway, bothGateway] = await Promise.all([
      startTestGateway(h, { JWT_SECRET: undefined, JWT_JWKS_URL: jwksUrl, JWT_ISSUER: issuer, JWKS_COOLDOWN_MS: '0' }),
      startTestGateway(h, { JWT_JWKS_URL: jwksUrl, JWT_ISSUER: issuer, JWKS_COOLDOWN_MS: '0' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([jwksGateway?.stop(), bothGateway?.stop()]);
    await new Promise<void>((resolve) => (jwksServer ? jwksServer.close(() => resolve()) : resolve()));
  });

  it("takes the booking system's own token in JWKS mode too, without fetching the project's keys for it", async () => {
    const before = fetches;
    const res = await whoAmI(jwksGateway, await jwksGateway.serviceToken());
    expect(res.status, res.text).toBe(200);
    expect(res.body.meeting).toMatchObject({ tutorId: '', title: 'true' });
    expect(fetches).toBe(before);
    // A project key cannot make one: signed by the project, claiming the booking system's client id.
    const posing = claims({ iss: jwksGateway.config.BOOKING_CLIENT_ID, sub: jwksGateway.config.BOOKING_CLIENT_ID, aud: 'lessoncall', role: undefined });
    expect401(await whoAmI(jwksGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1', posing)));
  });

  it('accepts RS256 and ES256 tokens from the project keys, and caches the key set', async () => {
    const before = fetches;
    for (let i = 0; i < 3; i++) {
      const res = await whoAmI(jwksGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1'));
      expect(res.status, res.text).toBe(200);
      expect(res.body.meeting.tutorId).toBe(user);
    }
    expect((await whoAmI(jwksGateway, await signWith(ec.privateKey, 'ES256', 'ec-1'))).status).toBe(200);
    expect(fetches - before).toBeLessThanOrEqual(1);
    // Both kinds configured: asymmetric tokens still verify against the JWKS.
    expect((await whoAmI(bothGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1'))).status).toBe(200);
  });

  it('refuses HS/RS confusion: an HS256 token whose secret is the RSA public key', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    for (const material of [pem, Buffer.from(JSON.stringify(keys[0]))]) {
      const forged = hs256(material, claims(), { alg: 'HS256', typ: 'JWT', kid: 'rsa-1' });
      expect401(await whoAmI(jwksGateway, forged));
      expect401(await whoAmI(bothGateway, forged));
    }
    // And an RS256 header over a token signed with something else.
    const [header, payload] = (await signWith(rsa.privateKey, 'RS256', 'rsa-1')).split('.');
    expect401(await whoAmI(jwksGateway, `${header}.${payload}.${createHmac('sha256', pem).update(`${header}.${payload}`).digest('base64url')}`));
  });

  it('refuses alg none, unknown keys, expired, wrong audience and issuer', async () => {
    expect401(await whoAmI(jwksGateway, `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims())}.`));
    const stranger = await generateKeyPair('RS256');
    expect401(await whoAmI(jwksGateway, await signWith(stranger.privateKey, 'RS256', 'rsa-1')));
    expect401(await whoAmI(jwksGateway, await signWith(stranger.privateKey, 'RS256', 'nobody')));
    expect401(await whoAmI(jwksGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1', claims({ exp: now() - 3600, iat: now() - 7200 }))), 'token_expired');
    expect401(await whoAmI(jwksGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1', claims({ aud: 'somebody-else' }))));
    expect401(await whoAmI(jwksGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1', claims({ iss: 'https://evil.example/auth/v1' }))));
    expect401(await whoAmI(jwksGateway, await signWith(rsa.privateKey, 'RS256', 'rsa-1', claims({ role: 'supabase_admin' }))));
    // A JWKS-only gateway takes no HS256 token at all.
    expect401(await whoAmI(jwksGateway, hs256('x'.repeat(40), claims())));
  });

  it('picks up a rotated key: a token with a new kid makes it fetch the key set again', async () => {
    const next = await generateKeyPair('ES256', { extractable: true });
    const token = await signWith(next.privateKey, 'ES256', 'ec-2');
    expect401(await whoAmI(jwksGateway, token));
    keys = [...keys, { ...(await exportJWK(next.publicKey)), kid: 'ec-2', alg: 'ES256', use: 'sig' }];
    const res = await whoAmI(jwksGateway, token);
    expect(res.status, res.text).toBe(200);
  });

  it('answers 503 with Retry-After when the key set cannot be fetched', async () => {
    const port = await freePort();
    const down = await startTestGateway(h, {
      JWT_SECRET: undefined,
      JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
      JWT_ISSUER: issuer,
      JWKS_TIMEOUT_MS: '500',
    });
    try {
      const res = await whoAmI(down, await signWith(rsa.privateKey, 'RS256', 'rsa-1'));
      expect(res.status, res.text).toBe(503);
      expect(res.body.code).toBe('unavailable');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await down.stop();
    }
  });
});
