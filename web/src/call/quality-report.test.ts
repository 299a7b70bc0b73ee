import { describe, expect, it } from 'vitest';
import { QualityReporter } from './quality-report';

describe('QualityReporter', () => {
  it('gives one sample per peer and period: median RTT, mean loss, relayed when most polls were', () => {
    const r = new QualityReporter(10_000);
    expect(r.add('p', { rttMs: 5, lossPercent: 0, route: 'relay' }, 0)).toBeUndefined();
    const polls = [
      { rttMs: 40, lossPercent: 1, route: 'relay' as const },
      { rttMs: 60, lossPercent: 3, route: 'relay' as const },
      { rttMs: 1000, lossPercent: 2, route: 'direct' as const },
    ];
    expect(r.add('p', polls[0] as (typeof polls)[0], 2_000)).toBeUndefined();
    expect(r.add('p', polls[1] as (typeof polls)[0], 4_000)).toBeUndefined();
    expect(r.add('p', polls[2] as (typeof polls)[0], 10_000)).toEqual({ peerSessionId: 'p', rttMs: 60, lossRatio: 0.02, relayed: true, intervalMs: 10_000 });
    // The next period starts where this one ended.
    expect(r.add('p', { rttMs: 10, lossPercent: undefined, route: 'direct' }, 12_000)).toBeUndefined();
    expect(r.flush(13_000)).toEqual([{ peerSessionId: 'p', rttMs: 10, relayed: false, intervalMs: 3_000 }]);
  });

  it('leaves out what was not measured and a period too short to count', () => {
    const r = new QualityReporter(10_000);
    r.add('p', { rttMs: undefined, lossPercent: undefined, route: 'unknown' }, 0);
    r.add('p', { rttMs: undefined, lossPercent: undefined, route: 'unknown' }, 500);
    expect(r.flush(800)).toEqual([]);
    r.add('q', { rttMs: undefined, lossPercent: undefined, route: 'unknown' }, 0);
    r.add('q', { rttMs: undefined, lossPercent: undefined, route: 'unknown' }, 10_000);
    expect(r.flush(10_001)).toEqual([]);
  });
});
