/**
 * REST through the gateway, with real access tokens: GET /api/video/meetings/:id (meeting +
 * participants, passcode checked) and POST /api/video/meetings/:id/join (a full join: passcode,
 * window, session row, participant.joined, TURN credentials).
 *
 *   pnpm exec tsx bench/rest-join.ts          (DURATION=5 CONNECTIONS=32,64 JOINS=6000 ROUNDS=3)
 *
 * Harness NATS + Postgres; the gateway, meeting, participant and turn services each in its own
 * process, started from their main.ts as in production (tracing on, no exporter; the shared
 * per-client rate limit on, set high enough not to refuse). autocannon drives the load from this
 * process. Writes bench/results/rest-join.json.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { signDevToken } from '@lessoncall/gateway';
import { connectNats, createLogger, servePartial } from '@lessoncall/kit';
import { freePort, setup, startNats } from '@lessoncall/kit/testing';
import { generateSessionId, MeetingService, ParticipantService } from '@lessoncall/proto';
import autocannon from 'autocannon';
import { type Activity, activityMeter } from './lib/activity';
import { type BenchMeeting, insertOpenMeetings, newMeetings } from './lib/meetings';
import { cpuMeter, type Measured, natsPid, type Proc, postgresCpuSeconds, startProcess, waitReady } from './lib/processes';
import { idleMeter, median, medianOfRounds, ratio } from './lib/rounds';
import { writeResult } from './lib/results';
import { round } from './lib/stats';

const duration = Number(process.env.DURATION ?? 5);
const rounds = Number(process.env.ROUNDS ?? 3);
const aloneLabel = ' (stand-in services: the gateway alone)';
const connectionsList = (process.env.CONNECTIONS ?? '32,64').split(',').map(Number);
const joinsPerRun = Number(process.env.JOINS ?? 6_000);
const getMeetings = 500;

type Meeting = BenchMeeting;

/** CPU_PROF=<dir>: each full-stack process writes V8 CPU profiles (one per thread) to <dir>/<process> on exit (for flame graphs). */
const profiled = { cpuProfileDir: process.env.CPU_PROF };

/**
 * autocannon, timed from the start to the last answer (its own `duration` counts whole sampling
 * seconds, which for `amount` runs of a few seconds is far off).
 */
function load(options: autocannon.Options): Promise<{ r: autocannon.Result; seconds: number }> {
  const t0 = performance.now();
  let last = t0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, r) => (err ? reject(err) : resolve({ r, seconds: (last - t0) / 1000 })));
    instance.on('response', () => {
      last = performance.now();
    });
  });
}

function summary(name: string, connections: number, { r, seconds }: { r: autocannon.Result; seconds: number }) {
  const ok = r['2xx'];
  return {
    name,
    connections,
    seconds: round(seconds),
    requests: r.requests.total,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0])),
    requestsPerSecond: Math.round(ok / seconds),
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: round(r.latency.average) },
  };
}

async function main() {
  const h = await setup({ postgres: true });
  const db = h.db!;
  const secret = randomBytes(32).toString('hex');
  const issuer = 'http://127.0.0.1/auth/v1';
  const tokenConfig = { JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: 'authenticated' };
  const common = { DATABASE_URL: h.postgres!.url };
  const [gatewayPort, meetingHealth, participantHealth, turnHealth] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const children: Proc[] = [
    startProcess('meeting', 'services/meeting/src/main.ts', { ...common, ...h.natsEnv('meeting'), HEALTH_PORT: String(meetingHealth) }, profiled),
    startProcess(
      'participant',
      'services/participant/src/main.ts',
      {
        ...common,
        ...h.natsEnv('participant'),
        HEALTH_PORT: String(participantHealth),
        RESUME_TOKEN_SECRET: randomBytes(32).toString('hex'),
        // Sessions joined here never open a socket: no presence heartbeats to expect.
        PRESENCE_STALE_SECONDS: '0',
      },
      profiled,
    ),
    startProcess(
      'turn',
      'services/turn/src/main.ts',
      {
        ...h.natsEnv('turn'),
        HEALTH_PORT: String(turnHealth),
        TURN_SECRET: randomBytes(16).toString('hex'),
        TURN_URLS: 'turn:127.0.0.1:3478?transport=udp',
      },
      profiled,
    ),
    startProcess(
      'gateway',
      'services/gateway/src/main.ts',
      {
        ...h.natsEnv('gateway'),
        PORT: String(gatewayPort),
        HOST: '127.0.0.1',
        ...tokenConfig,
        REST_RATE_PER_MINUTE: '100000000',
        REST_USER_RATE_PER_MINUTE: '100000000',
      },
      profiled,
    ),
  ];
  const gateway = `http://127.0.0.1:${gatewayPort}`;

  // The gateway's own ceiling: a second gateway on its own NATS, whose services are stand-ins
  // that answer at once, so only the gateway's work (auth, rate limit, validation, NATS, JSON) is measured.
  // No authorization on this one: its stand-in answers as every service at once.
  const bareNats = await startNats({ auth: false });
  const silent = createLogger('stand-in', { level: 'silent' });
  const bareNc = await connectNats({ url: bareNats.url, name: 'stand-in', logger: silent });
  await servePartial(
    bareNc,
    MeetingService,
    {
      getMeeting: async (r) => ({ meeting: { meetingId: r.meetingId, tutorId: r.userId, status: 'active' } }),
    },
    { logger: silent },
  );
  await servePartial(
    bareNc,
    ParticipantService,
    {
      listParticipants: async () => ({ participants: [] }),
    },
    { logger: silent },
  );
  await servePartial(
    bareNc,
    ParticipantService,
    {
      join: async (r) => ({ sessionId: generateSessionId(), resumeToken: 'x', userType: 'tutor', meeting: { meetingId: r.meetingId }, participants: [] }),
    },
    { logger: silent },
  );
  const barePort = await freePort();
  children.push(
    startProcess('gateway (stand-in services)', 'services/gateway/src/main.ts', {
      NATS_URL: bareNats.url,
      PORT: String(barePort),
      HOST: '127.0.0.1',
      ...tokenConfig,
      REST_RATE_PER_MINUTE: '100000000',
      REST_USER_RATE_PER_MINUTE: '100000000',
    }),
  );
  const bareGateway = `http://127.0.0.1:${barePort}`;

  const meetings = (n: number): Promise<Meeting[]> => insertOpenMeetings(db, n);

  const standInMeetings = newMeetings;

  const tokens = new Map<string, string>();
  const tokenOf = async (userId: string) => {
    let t = tokens.get(userId);
    if (!t) {
      t = await signDevToken(tokenConfig, { userId, expiresInSeconds: 3600 });
      tokens.set(userId, t);
    }
    return t;
  };

  async function getMeetingRun(connections: number, seconds: number, ms: Meeting[], url = gateway, label = '') {
    const reqs = await Promise.all(
      ms.map(async (m) => ({
        path: `/api/video/meetings/${m.meetingId}`,
        headers: { authorization: `Bearer ${await tokenOf(m.tutorId)}`, 'x-meeting-passcode': m.passcode },
      })),
    );
    let i = 0;
    const r = await load({
      url,
      connections,
      duration: seconds,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, ...reqs[i++ % reqs.length]! }) }],
    });
    return summary(`GET /api/video/meetings/:meetingId${label}`, connections, r);
  }

  type Job = { path: string; headers: Record<string, string>; body: string };
  /** Fresh meetings for one run, made before its clock and CPU meter start. */
  async function joinJobs(joins: number, url = gateway): Promise<Job[]> {
    const ms = url === gateway ? await meetings(Math.ceil(joins / 2)) : standInMeetings(Math.ceil(joins / 2));
    // All tutors, then all students: concurrent joins mostly hit different meetings.
    const jobs = await Promise.all(
      [...ms.map((m) => [m, m.tutorId] as const), ...ms.map((m) => [m, m.studentId] as const)].map(async ([m, userId]) => ({
        path: `/api/video/meetings/${m.meetingId}/join`,
        headers: { authorization: `Bearer ${await tokenOf(userId)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ passcode: m.passcode, displayName: 'Bench' }),
      })),
    );
    return jobs;
  }

  async function joinRun(connections: number, jobs: Job[], url = gateway, label = '') {
    let i = 0;
    const r = await load({
      url,
      connections,
      amount: jobs.length,
      timeout: 10,
      requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, ...jobs[i++]! }) }],
    });
    return summary(`POST /api/video/meetings/:meetingId/join${label}`, connections, r);
  }

  try {
    await Promise.all([
      waitReady(`${gateway}/readyz`),
      waitReady(`http://127.0.0.1:${meetingHealth}/readyz`),
      waitReady(`http://127.0.0.1:${participantHealth}/readyz`),
      waitReady(`http://127.0.0.1:${turnHealth}/readyz`),
      waitReady(`${bareGateway}/readyz`),
    ]);
    const getSet = await meetings(getMeetings);
    // Warm up: JIT, pools, the rate-limit bucket.
    await getMeetingRun(16, 3, getSet);
    await joinRun(16, await joinJobs(1_000));

    // Other work on this machine skews the figures: each run records the machine's idle CPU.
    const loadBefore = loadavg();
    const standIns = standInMeetings(getMeetings);
    await getMeetingRun(16, 2, standIns, bareGateway);
    type Cpu = ReturnType<ReturnType<typeof cpuMeter>>;
    type Run = Awaited<ReturnType<typeof joinRun>> & {
      idleShare: number;
      round: number;
      cpu: Cpu;
      cpuMsPerRequest: Record<string, number>;
      /** Full stack only: NATS messages and Postgres commits/rows per answered request. */
      perRequest?: Record<keyof Activity, number>;
    };
    // Where a request's cost lands: CPU milliseconds per answered request, per process.
    const perRequest = (used: Cpu, r: Awaited<ReturnType<typeof joinRun>>): Record<string, number> =>
      Object.fromEntries(
        Object.entries(used.perProcess).map(([k, cores]) => [k.replace(/#\d+$/, ''), round((cores * used.seconds * 1000) / Math.max(1, r.ok), 2)]),
      );
    const byName = (name: string) => children.find((p) => p.name === name)!;
    const fullProcs: Measured[] = [
      ...['gateway', 'meeting', 'participant', 'turn'].map((name) => ({ name, pid: byName(name).pid })),
      { name: 'nats-server', pid: natsPid(h.nats.port) },
      { name: 'postgres', cpuSeconds: () => postgresCpuSeconds(h.postgres?.port ?? 0) },
    ];
    const aloneProcs: Measured[] = [{ name: 'gateway', pid: byName('gateway (stand-in services)').pid }];
    const runs: Run[] = [];
    const measured = async (n: number, run: () => Promise<Awaited<ReturnType<typeof joinRun>>>, procs: readonly Measured[], prepare?: () => Promise<void>) => {
      await prepare?.();
      const activity = procs === fullProcs ? await activityMeter(h.nats.monitorUrl, h.postgres!.url) : undefined;
      const idle = idleMeter();
      const cpu = cpuMeter(procs);
      const result = await run();
      const used = cpu();
      const idleShare = idle();
      const act = await activity?.();
      const r: Run = { ...result, ...idleShare, round: n, cpu: used, cpuMsPerRequest: perRequest(used, result) };
      if (act)
        r.perRequest = Object.fromEntries(Object.entries(act).map(([k, v]) => [k, round(v / Math.max(1, result.ok), 2)])) as Record<keyof Activity, number>;
      const unit = r.name.startsWith('GET') ? 'req/s' : 'joins/s';
      console.log(
        `  round ${n}/${rounds} ${r.name} c=${r.connections}: ${r.requestsPerSecond} ${unit}, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx} ${JSON.stringify(r.statusCodes)} (machine idle ${Math.round(r.idleShare * 100)}%)`,
      );
      runs.push(r);
    };
    // Rounds take turns between the gateway alone and the full stack, so both see the same machine.
    for (let n = 1; n <= rounds; n++) {
      for (const c of connectionsList) {
        await measured(n, () => getMeetingRun(c, duration, standIns, bareGateway, aloneLabel), aloneProcs);
        let jobs: Job[] = [];
        const jobsFor = (url: string) => async () => {
          jobs = await joinJobs(joinsPerRun, url);
        };
        await measured(n, () => joinRun(c, jobs, bareGateway, aloneLabel), aloneProcs, jobsFor(bareGateway));
        await measured(n, () => getMeetingRun(c, duration, getSet), fullProcs);
        await measured(n, () => joinRun(c, jobs), fullProcs, jobsFor(gateway));
      }
    }
    // The headline of each (request, stack, connections): the median over the rounds.
    const groups = new Map<string, Run[]>();
    for (const r of runs) groups.set(`${r.name} c=${r.connections}`, [...(groups.get(`${r.name} c=${r.connections}`) ?? []), r]);
    const medians = Object.fromEntries(
      [...groups].map(([k, rs]) => [
        k,
        medianOfRounds(rs, { perSecond: (r) => r.requestsPerSecond, p50Ms: (r) => r.latencyMs.p50, p99Ms: (r) => r.latencyMs.p99, non2xx: (r) => r.non2xx }),
      ]),
    );
    // CPU ms per answered request by process, median over the rounds (the cost figures a capacity model reads).
    const cpuMsPerRequest = Object.fromEntries(
      [...groups].map(([k, rs]) => {
        const names = Object.keys(rs[0]?.cpuMsPerRequest ?? {});
        return [k, Object.fromEntries(names.map((name) => [name, median(rs.map((r) => r.cpuMsPerRequest[name] ?? 0))]))];
      }),
    );
    for (const [k, m] of Object.entries(cpuMsPerRequest)) console.log(`${k}: CPU ms per request ${JSON.stringify(m)}`);
    // NATS messages and Postgres commits/rows per request (full stack), median over the rounds.
    const activityPerRequest = Object.fromEntries(
      [...groups]
        .filter(([, rs]) => rs[0]?.perRequest)
        .map(([k, rs]) => [k, Object.fromEntries(Object.keys(rs[0]!.perRequest!).map((f) => [f, median(rs.map((r) => r.perRequest![f as keyof Activity]))]))]),
    );
    for (const [k, m] of Object.entries(activityPerRequest)) console.log(`${k}: per request ${JSON.stringify(m)}`);
    const joinKey = (alone: boolean, c: number) => `POST /api/video/meetings/:meetingId/join${alone ? aloneLabel : ''} c=${c}`;
    const ratioToGatewayAlone = Object.fromEntries(
      connectionsList.map((c) => [
        `c=${c}`,
        { joinsPerSecond: ratio(medians[joinKey(false, c)]?.median.perSecond, medians[joinKey(true, c)]?.median.perSecond) },
      ]),
    );
    for (const [k, m] of Object.entries(medians))
      console.log(`${k}, median of ${rounds}: ${m.median.perSecond}/s, p50 ${m.median.p50Ms} ms, p99 ${m.median.p99Ms} ms`);
    console.log(`full stack ÷ gateway alone (joins/s, same run): ${JSON.stringify(ratioToGatewayAlone)}`);
    const best = connectionsList.map((c) => medians[joinKey(false, c)]?.median).filter((m) => m !== undefined);
    const result = {
      benchmark: 'rest-join',
      what: 'REST through the gateway with real HS256 access tokens: GET meeting (+participants) and POST join',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      setup: {
        processes:
          'gateway, meeting, participant, turn: one process each (main.ts); nats-server and Postgres from the test harness; autocannon in the bench process',
        getMeetings,
        joinsPerRun,
        joinsPerMeeting: 2,
        durationSeconds: duration,
        rounds,
        anchor: 'the same gateway on its own NATS with stand-in services that answer at once: the gateway alone, measured in the same run, rounds alternating',
        headline: "the median over the rounds of each figure, never the best round; idleShare is the machine's idle CPU during each run (/proc/stat)",
      },
      target: { joinsPerSecond: 1500, p99Ms: 50, fullStackShareOfGatewayAlone: 0.5 },
      load: { before: loadBefore, after: loadavg() },
      headline: { median: medians, ratioToGatewayAlone, cpuMsPerRequest, activityPerRequest },
      verdict: {
        p99Met: best.some((m) => m.p99Ms <= 50),
        halfOfGatewayAlone: Object.values(ratioToGatewayAlone).some((r) => (r.joinsPerSecond ?? 0) >= 0.5),
        joinsPerSecondMet: best.some((m) => m.perSecond >= 1500),
      },
      runs,
    };
    const written = await writeResult('rest-join.json', result);
    console.log(`wrote ${written}`);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await bareNc.close();
    await bareNats.stop();
    await h.cleanup();
  }
}

await main();
