import { describe, expect, it } from 'vitest';
import { seededRandom } from '@lessoncall/kit/testing';
import { idleMeter, idleShare, median, medianOfRounds, ratio, readCpuTimes, runRounds } from '../lib/rounds';

// The first line of /proc/stat: user nice system idle iowait irq softirq steal guest guest_nice.
const stat = (user: number, idle: number, iowait = 0) => `cpu  ${user} 0 0 ${idle} ${iowait} 0 0 0 0 0\ncpu0 1 2 3 4\n`;

describe('idle CPU from /proc/stat', () => {
  it('counts idle and iowait as idle, of all cores over the interval', () => {
    const from = readCpuTimes(stat(1_000, 1_000));
    const to = readCpuTimes(stat(1_150, 1_040, 10));
    // 200 jiffies passed on the machine, 50 of them idle or waiting.
    expect(idleShare(from, to)).toBe(0.25);
  });

  it('reads the counters the meter is given, once at the start and once at the end', () => {
    const readings = [stat(0, 0), stat(30, 70)].map((s) => readCpuTimes(s));
    const stop = idleMeter(() => readings.shift() ?? readCpuTimes(stat(0, 0)));
    expect(stop()).toEqual({ idleShare: 0.7 });
  });

  it('reads the real /proc/stat as a share between 0 and 1', () => {
    const t = readCpuTimes();
    expect(t.total).toBeGreaterThan(0);
    expect(t.idle).toBeLessThanOrEqual(t.total);
  });
});

describe('median and ratio', () => {
  it('takes the middle round, never the best one', () => {
    expect(median([900, 12, 30])).toBe(30);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(median([Number.NaN, 5])).toBe(5);
  });

  it('has no ratio to a missing or zero anchor', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeUndefined();
    expect(ratio(undefined, 2)).toBeUndefined();
    expect(ratio(3, Number.NaN)).toBeUndefined();
  });

  it("summarises rounds by the median of each figure, with the range and every round's idle share", () => {
    const rounds = [
      { round: 1, idleShare: 0.1, p99: 80 },
      { round: 2, idleShare: 0.6, p99: 20 },
      { round: 3, idleShare: 0.3, p99: 45 },
    ];
    const h = medianOfRounds(rounds, { p99Ms: (r) => r.p99 });
    expect(h).toEqual({ rounds: 3, idleShare: [0.1, 0.6, 0.3], median: { p99Ms: 45 }, range: { p99Ms: [20, 80] } });
  });
});

describe('runRounds', () => {
  it('runs the rounds in order and stamps each with its number and idle share', async () => {
    const seen: number[] = [];
    // Each round: 100 jiffies pass, 10 × round of them idle.
    let jiffies = 0;
    let idle = 0;
    const read = () => ({ total: jiffies, idle });
    const rs = await runRounds(
      3,
      async (n) => {
        seen.push(n);
        jiffies += 100;
        idle += 10 * n;
        return { value: n * 10 };
      },
      { read },
    );
    expect(seen).toEqual([1, 2, 3]);
    expect(rs.map((r) => [r.round, r.value])).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    expect(rs.map((r) => r.idleShare)).toEqual([0.1, 0.2, 0.3]);
  });
});

describe('seededRandom', () => {
  it('gives the same sequence for the same seed, in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 100 }, () => a());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(seededRandom(8)()).not.toBe(xs[0]);
  });
});
