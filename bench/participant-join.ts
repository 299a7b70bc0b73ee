/**
 * Joins per second and request latency through svc.participant.join.
 *
 *   pnpm exec tsx bench/participant-join.ts      (JOINS=3000 ROUNDS=3 CONCURRENCY=8,32,64 MODES=in-process,worker-threads)
 *
 * Harness NATS + Postgres; the participant, meeting (real svc.meeting.verify_join) and turn
 * services started exactly as their integration tests start them, in two layouts:
 *  - in-process: all services and the load generator on this one JavaScript thread;
 *  - worker-threads: the participant service in one worker thread, meeting + turn in another,
 *    the load generator on the main thread (closer to separate pods, still one process).
 * Every join is a full one: verify with the meeting service (passcode, window), one transaction
 * that locks the meeting and inserts the session, participant.joined on JetStream, TURN
 * credentials. The meeting service consumes the participant.joined events meanwhile (a meeting's
 * first join starts it), as in production. For comparison each run is followed by the same load
 * on svc.meeting.verify_join alone (the anchor: the join's ratio to it is the participant
 * service's own cost). ROUNDS rounds; the headline is the median of each figure over them, every
 * run carrying the machine's idle CPU. Writes bench/results/participant-join.json.
 */

import { cpus, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createLogger, client } from '@lessoncall/kit';
import { setup } from '@lessoncall/kit/testing';
import { loadMeetingConfig, startMeetingService } from '@lessoncall/meeting';
import { loadParticipantConfig, startParticipantService } from '@lessoncall/participant';
import { MeetingService, ParticipantService } from '@lessoncall/proto';
import { loadTurnConfig, startTurnService } from '@lessoncall/turn';
import { type BenchMeeting, insertOpenMeetings } from './lib/meetings';
import { idleMeter, medianOfRounds, ratio } from './lib/rounds';
import { writeResult } from './lib/results';

const totalJoins = Number(process.env.JOINS ?? 3_000);
const rounds = Number(process.env.ROUNDS ?? 3);
const concurrencies = (process.env.CONCURRENCY ?? '8,32,64').split(',').map(Number);
const modes = (process.env.MODES ?? 'in-process,worker-threads').split(',') as Mode[];
const warmupJoins = 400;
const logger = createLogger('bench', { level: 'warn' });

type Mode = 'in-process' | 'worker-threads';
type Role = 'all' | 'participant' | 'meeting+turn';

type Meeting = BenchMeeting;

interface Job {
  meeting: Meeting;
  userId: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Where the services connect: each its own NATS role's settings, and the database. */
interface Urls {
  nats: Record<'meeting' | 'turn' | 'participant', Record<string, string>>;
  postgres: string;
}

/** Starts the services of a role; returns how to stop them. */
async function startServices(role: Role, urls: Urls): Promise<() => Promise<void>> {
  const base = { HEALTH_PORT: '0', LOG_LEVEL: 'warn', DATABASE_URL: urls.postgres };
  const stops: (() => Promise<void>)[] = [];
  if (role !== 'participant') {
    const meeting = await startMeetingService(loadMeetingConfig({ ...base, ...urls.nats.meeting }), { logger, telemetry: false });
    stops.push(() => meeting.stop());
    const turn = await startTurnService(
      loadTurnConfig({ ...base, ...urls.nats.turn, TURN_SECRET: 'bench-turn-secret-0123456789', TURN_URLS: 'turn:127.0.0.1:3478' }),
      {
        logger,
        telemetry: false,
      },
    );
    stops.push(() => turn.stop());
  }
  if (role !== 'meeting+turn') {
    // No gateway heartbeats here: the stale-session sweep would close the sessions of earlier runs.
    const config = loadParticipantConfig({
      ...base,
      ...urls.nats.participant,
      RESUME_TOKEN_SECRET: 'bench-resume-token-secret-0123456789abcdef',
      PRESENCE_STALE_SECONDS: '0',
    });
    const participant = await startParticipantService(config, { logger, telemetry: false });
    stops.push(() => participant.stop());
  }
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

/** A worker thread running the services of one role until told to stop. */
async function startWorker(role: Role, urls: Urls): Promise<() => Promise<void>> {
  // tsx's loader hooks are per thread: the worker registers its own before loading this file.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { role, urls } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return async () => {
    const stopped = new Promise((resolve) => worker.once('message', resolve));
    worker.postMessage('stop');
    await stopped;
    await worker.terminate();
  };
}

async function main() {
  // The machine is shared: what else ran matters to the figures.
  const loadAtStart = loadavg();
  const h = await setup({ postgres: true });
  const db = h.db!;
  const urls: Urls = { nats: { meeting: h.natsEnv('meeting'), turn: h.natsEnv('turn'), participant: h.natsEnv('participant') }, postgres: h.postgres!.url };

  /** Meetings open now, two joins each (tutor and student), inserted in bulk. */
  async function meetings(n: number): Promise<Job[]> {
    const ms = await insertOpenMeetings(db, n);
    // All tutors, then all students: concurrent joins mostly hit different meetings.
    return [...ms.map((meeting) => ({ meeting, userId: meeting.tutorId })), ...ms.map((meeting) => ({ meeting, userId: meeting.studentId }))];
  }

  const joinOnce = async (job: Job) => {
    const r = await client(h.nc, ParticipantService, { timeoutMs: 10_000 }).join({
      meetingId: job.meeting.meetingId,
      userId: job.userId,
      passcode: job.meeting.passcode,
      clientKey: `bench-${job.userId}`,
    });
    return r.iceServers.length > 0;
  };
  /** The meeting service's part of a join alone, for comparison. */
  const verifyOnce = async (job: Job) => {
    await client(h.nc, MeetingService, { timeoutMs: 10_000 }).verifyJoin({
      meetingId: job.meeting.meetingId,
      userId: job.userId,
      passcode: job.meeting.passcode,
      clientKey: `bench-${job.userId}`,
    });
    return true;
  };

  async function run(jobs: Job[], concurrency: number, once: (job: Job) => Promise<boolean>) {
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    let next = 0;
    let iceless = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const job = jobs[next++];
          if (!job) return;
          const t0 = performance.now();
          try {
            if (!(await once(job))) iceless++;
            latencies.push(performance.now() - t0);
          } catch (err) {
            const code = (err as { code?: string }).code ?? 'error';
            errors[code] = (errors[code] ?? 0) + 1;
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      concurrency,
      requests: latencies.length,
      errors,
      withoutIceServers: iceless,
      seconds: round(seconds),
      perSecond: Math.round(latencies.length / seconds),
      latencyMs: {
        p50: round(percentile(latencies, 50)),
        p90: round(percentile(latencies, 90)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? Number.NaN),
        mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
      },
    };
  }

  const results: Record<string, unknown> = {};
  try {
    for (const mode of modes) {
      const stop =
        mode === 'in-process'
          ? await startServices('all', urls)
          : await (async () => {
              const stops = [await startWorker('meeting+turn', urls), await startWorker('participant', urls)];
              return async () => {
                for (const s of stops.reverse()) await s();
              };
            })();
      try {
        await run(await meetings(warmupJoins / 2), 16, joinOnce);
        type Measured = Awaited<ReturnType<typeof run>> & { round: number; idleShare: number };
        const runs: Measured[] = [];
        const verifyOnly: Measured[] = [];
        const measured = async (n: number, what: string, r: Promise<Awaited<ReturnType<typeof run>>>, into: Measured[]) => {
          const idle = idleMeter();
          const m: Measured = { ...(await r), round: n, ...idle() };
          into.push(m);
          console.log(
            `${mode.padEnd(14)} round ${n}/${rounds} ${what} concurrency ${String(m.concurrency).padStart(3)}: ${m.perSecond}/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, errors ${JSON.stringify(m.errors)} (machine idle ${Math.round(m.idleShare * 100)}%)`,
          );
        };
        // Rounds take turns between the join and verify_join alone, so both meet the same machine.
        for (let n = 1; n <= rounds; n++) {
          for (const c of concurrencies) {
            await measured(n, 'join       ', run(await meetings(totalJoins / 2), c, joinOnce), runs);
            await measured(n, 'verify_join', run(await meetings(totalJoins / 2), c, verifyOnce), verifyOnly);
          }
        }
        const figures = { perSecond: (r: Measured) => r.perSecond, p50Ms: (r: Measured) => r.latencyMs.p50, p99Ms: (r: Measured) => r.latencyMs.p99 };
        const headline = Object.fromEntries(
          concurrencies.map((c) => {
            const join = medianOfRounds(
              runs.filter((r) => r.concurrency === c),
              figures,
            );
            const verify = medianOfRounds(
              verifyOnly.filter((r) => r.concurrency === c),
              figures,
            );
            console.log(
              `${mode.padEnd(14)} concurrency ${c}, median of ${rounds}: join ${join.median.perSecond}/s p99 ${join.median.p99Ms} ms; verify_join ${verify.median.perSecond}/s; join ÷ verify_join ×${ratio(join.median.perSecond, verify.median.perSecond)}`,
            );
            return [
              `c=${c}`,
              { join: join.median, verifyJoinOnly: verify.median, joinRatioToVerifyJoin: ratio(join.median.perSecond, verify.median.perSecond) },
            ];
          }),
        );
        /** svc.meeting.verify_join alone at the same concurrency: the meeting service's share of a join, the anchor. */
        results[mode] = { headline, joins: runs, verifyJoinOnly: verifyOnly };
      } finally {
        await stop();
      }
    }
    const result = {
      benchmark: 'participant-join',
      what: 'svc.participant.join request/reply; services in this process; harness NATS + Postgres',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadAverage1mAtStart: loadAtStart[0], loadAverage1mAtEnd: loadavg()[0] },
      setup: {
        meetingVerifier: 'real meeting service (startMeetingService from @lessoncall/meeting)',
        turn: 'real turn service (startTurnService from @lessoncall/turn)',
        joinsPerRun: totalJoins,
        rounds,
        joinsPerMeeting: 2,
        warmupJoins,
        databasePoolSizePerService: 10,
      },
      target: { joinsPerSecond: 1500, p99Ms: 50, note: 'the design target is for the REST join through the gateway, measured elsewhere' },
      results,
    };
    const written = await writeResult('participant-join.json', result);
    console.log(`wrote ${written}`);
  } finally {
    await h.cleanup();
  }
}

if (isMainThread) {
  await main();
} else {
  const { role, urls } = workerData as { role: Role; urls: Urls };
  const stop = await startServices(role, urls);
  parentPort!.postMessage('ready');
  parentPort!.once('message', async () => {
    await stop();
    parentPort!.postMessage('stopped');
  });
}
