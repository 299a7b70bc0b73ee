import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { call, startTestGateway, type TestGateway } from './helpers';

type Upgrade =
  | { status: 101; ws: WebSocket }
  | { status: number; contentType: string | undefined; retryAfter: string | undefined; body: { code?: string; detail?: string } & Record<string, unknown> };

/** Opens the signaling socket as `client` (X-Forwarded-For through the trusted 127.0.0.1) and reports how the upgrade went. */
function upgrade(g: TestGateway, client: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${g.wsUrl}/api/video/ws`, { headers: { 'x-forwarded-for': client } });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          retryAfter: res.headers['retry-after'],
          body: JSON.parse(text || '{}'),
        }),
      );
    });
    ws.once('error', (err) => {
      if (ws.readyState !== WebSocket.CLOSED) reject(err);
    });
  });
}

const closeAll = (sockets: WebSocket[]) =>
  Promise.all(sockets.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : new Promise((r) => ws.once('close', r).close()))));

describe('connection and ops limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('answers 429 problem+json with a code on a WebSocket upgrade past the per-address rate; other addresses go on', async () => {
    const g = await startTestGateway(h, { TRUSTED_PROXY_CIDRS: '127.0.0.1/32', WS_UPGRADE_BURST: '3', WS_UPGRADES_PER_MINUTE: '1' });
    const open: WebSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const u = await upgrade(g, '198.51.100.20');
        expect(u.status).toBe(101);
        if ('ws' in u) open.push(u.ws);
      }
      const refused = await upgrade(g, '198.51.100.20');
      expect(refused).toMatchObject({
        status: 429,
        contentType: 'application/problem+json',
        retryAfter: '60',
        body: { status: 429, code: 'rate_limited', type: 'https://lessoncall.dev/problems/rate_limited', instance: '/api/video/ws', retryAfterSeconds: 60 },
      });
      expect('body' in refused ? refused.body.detail : undefined).toMatch(/per minute from this address/);
      const other = await upgrade(g, '198.51.100.21');
      expect(other.status).toBe(101);
      if ('ws' in other) open.push(other.ws);
      expect(await (await fetch(g.metricsUrl)).text()).toMatch(/gateway_ws_upgrades_refused_total\{reason="rate"[^}]*\} 1/);
    } finally {
      await closeAll(open);
      await g.stop();
    }
  });

  it('caps the sockets one address holds open, and frees the slot when one closes', async () => {
    const g = await startTestGateway(h, { TRUSTED_PROXY_CIDRS: '127.0.0.1/32', WS_MAX_SOCKETS_PER_CLIENT: '2' });
    const open: WebSocket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const u = await upgrade(g, '203.0.113.30');
        if ('ws' in u) open.push(u.ws);
      }
      expect(open).toHaveLength(2);
      const third = await upgrade(g, '203.0.113.30');
      expect(third).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
      expect('body' in third ? third.body.detail : undefined).toMatch(/more than 2 WebSockets open from this address/);
      await closeAll(open.splice(0, 1));
      await expect
        .poll(async () => {
          const u = await upgrade(g, '203.0.113.30');
          if ('ws' in u) open.push(u.ws);
          return u.status;
        })
        .toBe(101);
    } finally {
      await closeAll(open);
      await g.stop();
    }
  });

  it('serves /metrics on HEALTH_PORT only, never on the public port', async () => {
    const g = await startTestGateway(h);
    try {
      const pub = await call(g.url, 'GET', '/metrics');
      expect([pub.status, pub.body.code]).toEqual([404, 'invalid_request']);
      const metrics = await fetch(g.metricsUrl);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/gateway_http_request_duration_seconds_count\{[^}]*status="404"/);
      expect(new URL(g.metricsUrl).port).not.toBe(new URL(g.url).port);
    } finally {
      await g.stop();
    }
  });

  it('answers /readyz from the cached result: a burst of probes is one NATS round trip, and a lost NATS shows at once', async () => {
    const lonely = await setup();
    const g = await startTestGateway(lonely, { READINESS_CACHE_MS: '60000' });
    try {
      // The NATS check is a flush (PING/PONG): count the real connection's flushes.
      const nc = g.gateway.runtime.nc;
      const flush = nc.flush.bind(nc);
      let flushes = 0;
      nc.flush = () => {
        flushes++;
        return flush();
      };
      const statuses = await Promise.all(Array.from({ length: 50 }, () => call(g.url, 'GET', '/readyz').then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
      expect(flushes).toBe(1);
      await lonely.nats.stop();
      await expect.poll(async () => (await call(g.url, 'GET', '/readyz')).body.checks?.nats, { timeout: 5_000 }).toBe('disconnected');
    } finally {
      await lonely.nats.restart();
      await g.stop();
      await lonely.cleanup();
    }
  });
});
