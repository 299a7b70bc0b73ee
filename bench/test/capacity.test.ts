import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultAssumptions, defaultWorkload, type Figures, plan, predictedJoinsPerSecond } from '../lib/capacity';
import { loadFigures, MissingFigure } from '../lib/figures';

// Round figures, so each expectation can be worked out by hand.
const figures: Figures = {
  join: {
    cpuMs: { gateway: 2, meeting: 2, participant: 2, turn: 0.5, 'nats-server': 1, postgres: 4 },
    natsMessages: 10,
    postgresCommits: 2,
    postgresRowsWritten: 3,
    measuredJoinsPerSecond: 150,
    machineCores: 2,
    source: 'test',
  },
  signal: { cpuMs: { gateway: 0.1, signaling: 0.05, 'nats-server': 0.01 }, source: 'test' },
  signalsPerLessonStart: { count: 32, source: 'test' },
  socket: { gatewayKiB: 20, gatewayBaselineMiB: 150, source: 'test' },
  booking: { cpuMs: { meeting: 0.5, postgres: 0.2, 'nats-server': 0.1 }, source: 'test' },
};

const byName = (p: ReturnType<typeof plan>, name: string) => p.components.find((c) => c.component === name)!;

describe('capacity model', () => {
  it('turns the peak minute into joins and signals per second', () => {
    const p = plan(figures, { ...defaultWorkload, lessons: 12_000, peakStartShare: 0.5 });
    // 6,000 lessons start within 60 s, two participants each.
    expect(p.rates.joinsPerSecond).toBe(200);
    expect(p.rates.signalsPerSecond).toBe(3_200);
    expect(p.rates.heldSockets).toBe(24_000);
    expect(p.rates.postgresCommitsPerSecond).toBe(400);
  });

  it('sizes each service by CPU with headroom, never below the minimum', () => {
    const p = plan(figures, { ...defaultWorkload, lessons: 12_000 });
    // participant: 200 joins/s × 2 ms = 0.4 cores → the minimum of 2.
    expect(byName(p, 'participant')).toMatchObject({ replicas: 2, reason: 'minimum (2)' });
    // gateway: 200 × 2 ms + 3,200 × 0.1 ms = 0.72 cores; 24,000 sockets × 20 KiB in (614 − 150) MiB → 2.
    expect(byName(p, 'gateway').cores).toBeCloseTo(0.72);
    const big = plan(figures, { ...defaultWorkload, lessons: 120_000 });
    // 2,000 joins/s × 2 ms = 4 cores at 60% of one core each → 7 replicas.
    expect(byName(big, 'participant')).toMatchObject({ replicas: 7 });
    expect(byName(big, 'participant').reason).toMatch(/CPU/);
  });

  it('lets memory decide the gateways when sockets outweigh CPU', () => {
    const idle = plan(figures, { ...defaultWorkload, lessons: 100_000, peakStartShare: 0.01 });
    // 200,000 sockets × 20 KiB = 3,906 MiB; 464 MiB usable per gateway → 9.
    expect(byName(idle, 'gateway')).toMatchObject({ replicas: 9 });
    expect(byName(idle, 'gateway').reason).toMatch(/memory/);
  });

  it('keeps three NATS servers for JetStream replicas and an odd count above', () => {
    expect(byName(plan(figures, defaultWorkload), 'nats-server').replicas).toBe(3);
    const huge = plan(figures, { ...defaultWorkload, lessons: 1_000_000 });
    expect(byName(huge, 'nats-server').replicas % 2).toBe(1);
    expect(byName(huge, 'nats-server').replicas).toBeGreaterThan(3);
  });

  it('names the one writer as the first to saturate when joins dominate', () => {
    // 2,000 joins/s × 4 ms = 8 cores of Postgres against 4.
    const p = plan(figures, { ...defaultWorkload, lessons: 120_000 });
    expect(byName(p, 'postgres (primary)').utilisation).toBeCloseTo(2);
    expect(p.saturatesFirst).toBe('postgres (primary)');
    // 4 cores × 60% = 2.4 cores hold 2.4 / 8.0033 (joins and the next hour's bookings) of the 120,000 lessons.
    expect(p.postgresCeilingLessons).toBe(35_985);
  });

  it('sizes coturn by relayed bandwidth', () => {
    const p = plan(figures, { ...defaultWorkload, lessons: 10_000, relayShare: 0.25 });
    // 5,000 relayed × 1,540 kbit/s × 4 (up and down, in and out) = 30.8 Gbit/s → 6 nodes at 6 Gbit/s (60% of 10).
    expect(p.rates.relayGbps).toBeCloseTo(30.8);
    expect(byName(p, 'coturn').replicas).toBe(6);
  });

  it('refuses workloads it has no figures for, saying which flag is wrong', () => {
    expect(() => plan(figures, { ...defaultWorkload, groupSize: 8 })).toThrow(/SFU/);
    expect(() => plan(figures, { ...defaultWorkload, peakStartShare: 0 })).toThrow(/--peak-start-share/);
    expect(() => plan(figures, { ...defaultWorkload, lessons: -1 })).toThrow(/--lessons/);
  });

  it('prices a join as the chart runs it when the scaled-out factor is measured', () => {
    const w = { ...defaultWorkload, lessons: 120_000 };
    const flat = plan(figures, w);
    // 60,000 lessons start in 60 s: 2,000 joins/s × 1 ms of NATS → 2 cores (plus 32,000 signals/s × 0.01 ms
    // and 16.7 bookings/s × 0.1 ms); twice the join's share on a three-node cluster with R3 streams.
    const scaled = plan({ ...figures, scaledOut: { factor: { 'nats-server': 2, gateway: 1.5 }, source: 'test' } }, w);
    expect(byName(flat, 'nats-server').cores).toBeCloseTo(2 + (0.01 * 32_000 + 0.1 * (60_000 / 3_600)) / 1000, 3);
    expect(byName(scaled, 'nats-server').cores - byName(flat, 'nats-server').cores).toBeCloseTo(2, 3);
    expect(byName(scaled, 'gateway').cores - byName(flat, 'gateway').cores).toBeCloseTo(2, 3);
    // Untouched where no factor was measured.
    expect(byName(scaled, 'postgres (primary)').cores).toBeCloseTo(byName(flat, 'postgres (primary)').cores, 6);
  });

  it('uses the measured NATS messages per lesson minute at rest, for the group size and presence interval planned', () => {
    const measured = { ...figures, atRest: { natsMessagesPerLessonMinute: 7.6, presenceIntervalMs: 30_000, source: 'test' } };
    expect(plan(measured, defaultWorkload).rates.natsMessagesPerLessonMinute).toBeCloseTo(7.6, 6);
    // Four people presence-report twice as often: 7.6 / 2 per person × 4 × 2.
    expect(
      plan(measured, { ...defaultWorkload, groupSize: 4 }, { ...defaultAssumptions, presenceIntervalMs: 15_000 }).rates.natsMessagesPerLessonMinute,
    ).toBeCloseTo(30.4, 6);
  });

  it('predicts the benchmark machine from the summed costs', () => {
    // 11.5 ms per join on 2 cores → 174 joins/s against 150 measured.
    const check = predictedJoinsPerSecond(figures);
    expect(check.predicted).toBeCloseTo(173.9, 1);
    expect(check.error).toBeCloseTo(0.159, 2);
    expect(defaultAssumptions.targetUtilisation).toBeLessThan(1);
  });
});

describe('figures from bench/results', () => {
  it('reads every figure the model needs from the committed results', () => {
    const f = loadFigures();
    for (const kind of ['gateway', 'meeting', 'participant', 'postgres'] as const) expect(f.join.cpuMs[kind]).toBeGreaterThan(0);
    expect(f.join.natsMessages).toBeGreaterThan(0);
    expect(f.join.postgresCommits).toBeGreaterThan(0);
    expect(f.signal.cpuMs.gateway).toBeGreaterThan(0);
    expect(f.socket.gatewayKiB).toBeGreaterThan(0);
    expect(f.booking.cpuMs.meeting).toBeGreaterThan(0);
    // Measured at rest: about one presence request and reply per participant per 30 s.
    expect(f.atRest?.natsMessagesPerLessonMinute).toBeGreaterThan(4);
    expect(f.atRest?.natsMessagesPerLessonMinute).toBeLessThan(16);
    // The committed scaled simulation: JetStream replicated three ways costs NATS more per join.
    expect(f.scaledOut?.factor['nats-server']).toBeGreaterThan(1);
  });

  it('names the benchmark to run when a result lacks a figure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'capacity-'));
    try {
      const rest = JSON.parse(await readFile(join(import.meta.dirname, '../results/rest-join.json'), 'utf8'));
      delete rest.headline.activityPerRequest;
      await writeFile(join(dir, 'rest-join.json'), JSON.stringify(rest));
      expect(() => loadFigures(dir)).toThrow(MissingFigure);
      expect(() => loadFigures(dir)).toThrow(/npm run bench -- rest-join/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
