/**
 * REST through the gateway, with real access tokens: GET /api/video/meetings/:id (meeting +
 * participants, passcode checked) and POST /api/video/meetings/:id/join (a full join: passcode,
 * window, session row, participant.joined, TURN credentials).
 *
 *   pnpm exec tsx bench/rest-join.ts          (DURATION=10 CONNECTIONS=32,64 JOINS=12000 …)
 *
 * Harness NATS + Postgres; the gateway, meeting, participant and turn services each in its own
 * process, started from their main.ts as in production (tracing on, no exporter; the shared
 * per-client rate limit on, set high enough not to refuse). autocannon drives the load from this
 * process. Writes bench/results/rest-join.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join as joinPath } from 'node:path';
import { signDevToken } from '@lessoncall/gateway';
import { connectNats, createLogger, serve } from '@lessoncall/kit';
import { freePort, repoRoot, setup, startNats } from '@lessoncall/kit/testing';
import {
  GetMeetingRequestSchema,
  GetMeetingResponseSchema,
  generateSessionId,
  JoinRequestSchema,
  JoinResponseSchema,
  ListParticipantsRequestSchema,
  ListParticipantsResponseSchema,
  queues,
  rpc,
} from '@lessoncall/proto';
import autocannon from 'autocannon';
import { type BenchMeeting, insertOpenMeetings, newMeetings } from './lib/meetings';

const duration = Number(process.env.DURATION ?? 10);
const connectionsList = (process.env.CONNECTIONS ?? '32,64').split(',').map(Number);
const joinsPerRun = Number(process.env.JOINS ?? 12_000);
const getMeetings = 500;

type Meeting = BenchMeeting;

const round = (x: number) => Math.round(x * 100) / 100;

function startProcess(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`${name} exited (${code ?? signal})`);
  });
  return child;
}

async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} not ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

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
  const common = { NATS_URL: h.nats.url, DATABASE_URL: h.postgres!.url };
  const [gatewayPort, meetingHealth, participantHealth, turnHealth] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const children = [
    startProcess('meeting', 'services/meeting/src/main.ts', { ...common, HEALTH_PORT: String(meetingHealth) }),
    startProcess('participant', 'services/participant/src/main.ts', {
      ...common,
      HEALTH_PORT: String(participantHealth),
      RESUME_TOKEN_SECRET: randomBytes(32).toString('hex'),
      // Sessions joined here never open a socket: no presence heartbeats to expect.
      PRESENCE_STALE_SECONDS: '0',
    }),
    startProcess('turn', 'services/turn/src/main.ts', {
      NATS_URL: h.nats.url,
      HEALTH_PORT: String(turnHealth),
      TURN_SECRET: randomBytes(16).toString('hex'),
      TURN_URLS: 'turn:127.0.0.1:3478?transport=udp',
    }),
    startProcess('gateway', 'services/gateway/src/main.ts', {
      NATS_URL: h.nats.url,
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      ...tokenConfig,
      REST_RATE_PER_MINUTE: '100000000',
    }),
  ];
  const gateway = `http://127.0.0.1:${gatewayPort}`;

  // The gateway's own ceiling: a second gateway on its own NATS, whose services are stand-ins
  // that answer at once, so only the gateway's work (auth, rate limit, validation, NATS, JSON) is measured.
  const bareNats = await startNats();
  const silent = createLogger('stand-in', { level: 'silent' });
  const bareNc = await connectNats({ url: bareNats.url, name: 'stand-in', logger: silent });
  serve(bareNc, {
    subject: rpc.meetingGet,
    queue: queues.meeting,
    request: GetMeetingRequestSchema,
    response: GetMeetingResponseSchema,
    logger: silent,
    handler: async (r) => ({ meeting: { meetingId: r.meetingId, tutorId: r.userId, status: 'active' } }),
  });
  serve(bareNc, {
    subject: rpc.participantList,
    queue: queues.participant,
    request: ListParticipantsRequestSchema,
    response: ListParticipantsResponseSchema,
    logger: silent,
    handler: async () => ({ participants: [] }),
  });
  serve(bareNc, {
    subject: rpc.participantJoin,
    queue: queues.participant,
    request: JoinRequestSchema,
    response: JoinResponseSchema,
    logger: silent,
    handler: async (r) => ({ sessionId: generateSessionId(), resumeToken: 'x', userType: 'tutor', meeting: { meetingId: r.meetingId }, participants: [] }),
  });
  const barePort = await freePort();
  children.push(
    startProcess('gateway (stand-in services)', 'services/gateway/src/main.ts', {
      NATS_URL: bareNats.url,
      PORT: String(barePort),
      HOST: '127.0.0.1',
      ...tokenConfig,
      REST_RATE_PER_MINUTE: '100000000',
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

  async function joinRun(connections: number, joins: number, url = gateway, label = '') {
    const ms = url === gateway ? await meetings(Math.ceil(joins / 2)) : standInMeetings(Math.ceil(joins / 2));
    // All tutors, then all students: concurrent joins mostly hit different meetings.
    const jobs = await Promise.all(
      [...ms.map((m) => [m, m.tutorId] as const), ...ms.map((m) => [m, m.studentId] as const)].map(async ([m, userId]) => ({
        path: `/api/video/meetings/${m.meetingId}/join`,
        headers: { authorization: `Bearer ${await tokenOf(userId)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ passcode: m.passcode, displayName: 'Bench' }),
      })),
    );
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
    await joinRun(16, 1_000);

    const runs = [];
    // Other work on this machine skews the figures: recorded with them.
    const loadBefore = loadavg();
    const standIns = standInMeetings(getMeetings);
    await getMeetingRun(16, 2, standIns, bareGateway);
    for (const c of connectionsList) {
      const g = await getMeetingRun(c, duration, standIns, bareGateway, ' (stand-in services: the gateway alone)');
      console.log(`${g.name} c=${c}: ${g.requestsPerSecond} req/s, p50 ${g.latencyMs.p50} ms, p99 ${g.latencyMs.p99} ms, non-2xx ${g.non2xx}`);
      runs.push(g);
      const j = await joinRun(c, joinsPerRun, bareGateway, ' (stand-in services: the gateway alone)');
      console.log(`${j.name} c=${c}: ${j.requestsPerSecond} joins/s, p50 ${j.latencyMs.p50} ms, p99 ${j.latencyMs.p99} ms, non-2xx ${j.non2xx}`);
      runs.push(j);
    }
    for (const c of connectionsList) {
      const g = await getMeetingRun(c, duration, getSet);
      console.log(`${g.name} c=${c}: ${g.requestsPerSecond} req/s, p50 ${g.latencyMs.p50} ms, p99 ${g.latencyMs.p99} ms, non-2xx ${g.non2xx}`);
      runs.push(g);
      const j = await joinRun(c, joinsPerRun);
      console.log(
        `${j.name} c=${c}: ${j.requestsPerSecond} joins/s, p50 ${j.latencyMs.p50} ms, p99 ${j.latencyMs.p99} ms, non-2xx ${j.non2xx} ${JSON.stringify(j.statusCodes)}`,
      );
      runs.push(j);
    }
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
      },
      target: { joinsPerSecond: 1500, p99Ms: 50 },
      load: { before: loadBefore, after: loadavg() },
      runs,
    };
    const dir = joinPath(repoRoot, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(joinPath(dir, 'rest-join.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${joinPath(dir, 'rest-join.json')}`);
  } finally {
    await Promise.all(children.map(stopProcess));
    await bareNc.close();
    await bareNats.stop();
    await h.cleanup();
  }
}

await main();
