import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config';
import { call, demoStudentId, demoTutorId, startTestGateway, type TestGateway } from './helpers';

// Which bucket a request was counted in shows in RateLimit-Remaining: the key is what the
// gateway took for the client's address.
const remaining = async (g: TestGateway, xff?: string) =>
  Number((await call(g.url, 'GET', '/api/video/openapi.json', xff ? { headers: { 'x-forwarded-for': xff } } : {})).headers.get('ratelimit-remaining'));

describe('client keys: X-Forwarded-For only from trusted proxies, limits per user too', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('ignores X-Forwarded-For from a peer outside TRUSTED_PROXY_CIDRS: a pod cannot choose its own key', async () => {
    const g = await startTestGateway(h, { REST_RATE_PER_MINUTE: '50', REST_RATE_SYNC_MS: '0', TRUSTED_PROXY_CIDRS: '10.0.0.0/8' });
    try {
      // The test's own connections come from 127.0.0.1, not a trusted proxy: every header lands in one bucket.
      expect([await remaining(g, '198.51.100.1'), await remaining(g, '198.51.100.2'), await remaining(g)]).toEqual([49, 48, 47]);
    } finally {
      await g.stop();
    }
  });

  it('walks X-Forwarded-For from the right through trusted proxies only, so a client cannot prepend a spoofed hop', async () => {
    const g = await startTestGateway(h, { REST_RATE_PER_MINUTE: '50', REST_RATE_SYNC_MS: '0', TRUSTED_PROXY_CIDRS: '127.0.0.1/32, 10.0.0.0/8' });
    try {
      // Ingress (127.0.0.1) behind a load balancer (10.0.0.5): the client is 203.0.113.7 whatever it wrote before.
      expect(await remaining(g, '203.0.113.7, 10.0.0.5')).toBe(49);
      expect(await remaining(g, '1.1.1.1, 203.0.113.7, 10.0.0.5')).toBe(48);
      expect(await remaining(g, '2.2.2.2, 203.0.113.7')).toBe(47);
      // Another client, its own bucket; an IPv4-mapped IPv6 address is the same client as its IPv4.
      expect(await remaining(g, '203.0.113.8')).toBe(49);
      expect(await remaining(g, '::ffff:203.0.113.8')).toBe(48);
    } finally {
      await g.stop();
    }
  });

  it('limits a signed-in user per account on authenticated routes, whatever address each request comes from', async () => {
    const g = await startTestGateway(h, {
      REST_RATE_PER_MINUTE: '100',
      REST_USER_RATE_PER_MINUTE: '3',
      REST_RATE_SYNC_MS: '0',
      TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
    });
    try {
      const token = await g.tokenFor(demoTutorId);
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof call>> | undefined;
      for (let i = 0; i < 5; i++) {
        last = await call(g.url, 'GET', '/api/video/meetings?bookingId=bk-user-limit', { token, headers: { 'x-forwarded-for': `198.51.100.${10 + i}` } });
        statuses.push(last.status);
      }
      // No meeting service here: an admitted request is 503; the fourth and fifth never get that far.
      expect(statuses).toEqual([503, 503, 503, 429, 429]);
      expect([last?.body.code, last?.headers.get('ratelimit-limit'), Number(last?.headers.get('retry-after')) > 0]).toEqual(['rate_limited', '3', true]);
      // Another user from the same address is not limited by the first one's account.
      const other = await g.tokenFor(demoStudentId);
      expect(
        (await call(g.url, 'GET', '/api/video/meetings?bookingId=bk-user-limit', { token: other, headers: { 'x-forwarded-for': '198.51.100.10' } })).status,
      ).toBe(503);
    } finally {
      await g.stop();
    }
  });

  it('refuses to start with the removed TRUST_PROXY_HOPS, and with a CIDR that is not one', () => {
    const base = { ...h.natsEnv('gateway'), JWT_SECRET: 'x'.repeat(32), JWT_ISSUER: 'test' };
    expect(() => loadGatewayConfig({ ...base, TRUST_PROXY_HOPS: '1' })).toThrow(/TRUST_PROXY_HOPS was removed: set TRUSTED_PROXY_CIDRS/);
    expect(() => loadGatewayConfig({ ...base, TRUSTED_PROXY_CIDRS: '10.0.0.0/33' })).toThrow(/TRUSTED_PROXY_CIDRS.*10\.0\.0\.0\/33 is not a CIDR/s);
    expect(() => loadGatewayConfig({ ...base, TRUSTED_PROXY_CIDRS: 'ingress-nginx' })).toThrow(/ingress-nginx is not a CIDR/);
    expect(loadGatewayConfig({ ...base, TRUSTED_PROXY_CIDRS: '10.0.0.0/8,fd00::/8,192.0.2.1' }).TRUSTED_PROXY_CIDRS).toBe('10.0.0.0/8,fd00::/8,192.0.2.1');
  });
});
