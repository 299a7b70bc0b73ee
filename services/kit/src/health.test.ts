import { describe, expect, it } from 'vitest';
import { cachedReadiness } from './health';

describe('cached readiness', () => {
  it('runs the checks once per interval however many probes arrive, and again after an invalidation', async () => {
    let t = 0;
    let runs = 0;
    let healthy = true;
    const r = cachedReadiness(
      {
        postgres: async () => {
          runs++;
          if (!healthy) throw new Error('connect ECONNREFUSED');
        },
      },
      { cacheMs: 2_000, now: () => t },
    );
    const burst = await Promise.all(Array.from({ length: 20 }, () => r.check()));
    expect(burst.every((x) => x.ready)).toBe(true);
    expect(runs).toBe(1);
    t = 1_999;
    await r.check();
    expect(runs).toBe(1);
    healthy = false;
    t = 2_000;
    expect(await r.check()).toEqual({ ready: false, checks: { postgres: 'connect ECONNREFUSED' } });
    expect(runs).toBe(2);
    // A failure is cached too: probing an outage costs no more than probing a healthy process.
    await r.check();
    expect(runs).toBe(2);
    healthy = true;
    r.invalidate();
    expect((await r.check()).ready).toBe(true);
    expect(runs).toBe(3);
  });
});
