import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../src/index';
import { type Harness, setup } from '../src/testing/index';

/**
 * Found by the drills: /readyz answered ready while a service was still creating its consumers,
 * so a replica that then failed its start-up had already been sent traffic (and counted as up).
 */
describe('a service runtime', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('says "starting" on /readyz until the service has finished its start-up, then ready', async () => {
    const rt = await createRuntime('runtime-test', { LOG_LEVEL: 'silent', LOG_PRETTY: false, NATS_URL: h.nats.url, HEALTH_PORT: 0 }, { telemetry: false });
    try {
      const url = `http://127.0.0.1:${rt.health!.port}`;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const before = await fetch(`${url}/readyz`);
      expect(before.status).toBe(503);
      expect(await before.json()).toEqual({ status: 'not ready', checks: { started: 'starting', nats: 'ok' } });
      rt.markStarted();
      // Not held back by the cached "starting" answer.
      const after = await fetch(`${url}/readyz`);
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ status: 'ready', checks: { started: 'ok', nats: 'ok' } });
    } finally {
      await rt.close();
    }
  });
});
