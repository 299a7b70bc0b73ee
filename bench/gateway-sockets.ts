/**
 * Concurrent authenticated WebSockets one gateway process holds, with heartbeats, and its RSS.
 *
 *   pnpm exec tsx bench/gateway-sockets.ts        (SOCKETS=20000 CLIENTS=4 HOLD_S=25 HEARTBEAT_MS=10000 PARTICIPANT=stub|real)
 *
 * One gateway process (main.ts) on harness NATS. Every socket is a session: hello with an access
 * token → token check → svc.participant.join → subscriptions → welcome, two sockets per meeting.
 * CLIENTS client processes (bench/lib/socket-client.ts, each from its own loopback source
 * address) open them, answer pings, and hold them for HOLD_S seconds while the gateway pings
 * every socket every HEARTBEAT_MS and reports presence heartbeats. The count held is the
 * gateway's own gateway_ws_sessions gauge at the end of the hold; RSS is /proc/<pid>/status VmRSS.
 *
 * PARTICIPANT=stub (default) answers svc.participant.join/presence from this process without a
 * database (bench/lib/stub-participant.ts): the gateway does all of its own work, and the
 * participant service's join rate (bench/participant-join.ts measures it) does not decide how
 * many sockets open within the time bound. PARTICIPANT=real runs the meeting and participant
 * services with Postgres as well (→ gateway-sockets-full-stack.json).
 *
 * A process may hold only as many sockets as its open-files limit allows: this script cannot
 * raise the hard limit (`ulimit -Hn`, needs CAP_SYS_RESOURCE); run it from a shell with
 * `ulimit -n 65536` where the hard limit allows. The limit in effect is in the results.
 * Loopback only; bounded in time. Writes bench/results/gateway-sockets.json.
 */

import { cpus, loadavg } from 'node:os';
import { runBenchmark } from './lib/lifecycle';
import type { SocketJob, SocketReport } from './lib/socket-client';
import { cpuSeconds, fileLimit, type Proc, rssKb, startProcess } from './lib/processes';
import { startStack } from './lib/stack';
import { stubParticipant } from './lib/stub-participant';
import { idleMeter, medianOfRounds } from './lib/rounds';
import { round, sleep } from './lib/stats';
import { writeResult } from './lib/results';

const target = Number(process.env.SOCKETS ?? 20_000);
const clients = Number(process.env.CLIENTS ?? 4);
const holdS = Number(process.env.HOLD_S ?? 25);
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 10_000);
const helloConcurrency = Number(process.env.HELLO_CONCURRENCY ?? 16);
const openDeadlineS = Number(process.env.OPEN_DEADLINE_S ?? 110);
const deadlineMs = Number(process.env.DEADLINE_S ?? 200) * 1000;
/**
 * 'stub' (default): bench/lib/stub-participant.ts answers svc.participant.join/presence, so the
 * run measures the gateway and stays within its time bound; 'real': the participant service
 * (Postgres) joins every socket, and its join rate decides how many open in time.
 */
const participant = (process.env.PARTICIPANT ?? 'stub') as 'real' | 'stub';
const resultFile = participant === 'stub' ? 'gateway-sockets.json' : 'gateway-sockets-full-stack.json';

/** A value on the gateway's /metrics, served on its HEALTH_PORT (never the public port). */
async function gauge(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

async function main() {
  let cleanup = async () => {};
  const watchdog = setTimeout(() => {
    console.error(`gateway-sockets: over the ${deadlineMs / 1000} s bound, giving up`);
    void Promise.race([cleanup(), sleep(15_000)]).finally(() => process.exit(2));
  }, deadlineMs);
  watchdog.unref();
  const started = Date.now();
  const limits = fileLimit();
  console.log(`open files limit: soft ${limits.soft}, hard ${limits.hard}`);

  const stack = await startStack({
    gateways: 1,
    signaling: 0,
    gatewayEnv: { WS_HEARTBEAT_MS: String(heartbeatMs) },
    backends: participant === 'real' ? 'real' : 'none',
  });
  if (participant === 'stub') await stubParticipant(stack.h.nc);
  const gateway = stack.gateways[0] as (typeof stack.gateways)[0];
  const procs: Proc[] = [];
  let cleaned = false;
  cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const p of procs) if (p.child.connected) p.child.send({ type: 'stop' });
    await sleep(300);
    await Promise.all(procs.map((p) => p.stop()));
    await stack.stop();
  };
  try {
    const meetings = await stack.meetings(Math.ceil(target / 2));
    const hellos: SocketJob['hellos'] = [];
    for (const m of meetings) {
      for (const userId of [m.tutorId, m.studentId]) {
        if (hellos.length < target) hellos.push({ accessToken: await stack.token(userId), meetingId: m.meetingId, passcode: m.passcode });
      }
    }
    const baselineKb = rssKb(gateway.pid);
    const cpu0 = cpuSeconds(gateway.pid);
    console.log(`gateway pid ${gateway.pid}: baseline RSS ${Math.round(baselineKb / 1024)} MiB; opening ${target} sockets from ${clients} client processes`);

    const reports = new Map<number, SocketReport>();
    const done = new Set<number>();
    const openStart = performance.now();
    for (let i = 0; i < clients; i++) {
      const p = startProcess(`socket-client-${i}`, 'bench/lib/socket-client.ts', {}, { ipc: true });
      procs.push(p);
      p.child.on('message', (r: SocketReport | (Omit<SocketReport, 'type'> & { type: 'done' })) => {
        reports.set(i, { ...r, type: 'report' });
        if (r.type === 'done') done.add(i);
      });
      // Interleaved, so that both sockets of a meeting are usually on different client processes.
      const share = hellos.filter((_, j) => j % clients === i);
      const job: SocketJob = { url: gateway.wsUrl, localAddress: `127.0.0.${2 + i}`, concurrency: helloConcurrency, hellos: share };
      p.child.send({ type: 'start', job });
    }

    let peakKb = baselineKb;
    const samples: Array<{ t: number; sessions: number; sockets: number; rssMiB: number; heapUsedMiB: number }> = [];
    const sample = async () => {
      const rss = rssKb(gateway.pid);
      peakKb = Math.max(peakKb, rss);
      const s = {
        t: round((performance.now() - openStart) / 1000, 1),
        sessions: await gauge(gateway.metricsPort, 'gateway_ws_sessions'),
        sockets: await gauge(gateway.metricsPort, 'gateway_ws_sockets'),
        rssMiB: round(rss / 1024, 1),
        heapUsedMiB: round((await gauge(gateway.metricsPort, 'nodejs_heap_size_used_bytes')) / 1048576, 1),
      };
      samples.push(s);
      return s;
    };
    while (done.size < clients && performance.now() - openStart < openDeadlineS * 1000) {
      await sleep(2_000);
      const s = await sample();
      console.log(`  ${s.t} s: ${s.sessions} sessions, ${s.sockets} sockets, RSS ${s.rssMiB} MiB`);
    }
    const openSeconds = (performance.now() - openStart) / 1000;
    const opened = await sample();
    console.log(`opened: ${opened.sessions} sessions in ${round(openSeconds, 1)} s; holding ${holdS} s with heartbeats every ${heartbeatMs} ms`);

    // The hold is measured in 5 s rounds, each with the machine's idle CPU; the headline is their median.
    // What a lesson at rest costs the bus: every message into nats-server over the hold (presence
    // heartbeats and their replies: nothing else moves while the sockets only hold).
    const varz = async () => ((await (await fetch(`${stack.h.nats.monitorUrl}/varz`)).json()) as { in_msgs: number }).in_msgs;
    const natsAtHoldStart = await varz();
    const holdStart = performance.now();
    const holdRounds: Array<Awaited<ReturnType<typeof sample>> & { round: number; idleShare: number }> = [];
    while (performance.now() - holdStart < holdS * 1000) {
      const idle = idleMeter();
      await sleep(5_000);
      const s = { ...(await sample()), round: holdRounds.length + 1, ...idle() };
      holdRounds.push(s);
      console.log(
        `  hold ${round((performance.now() - holdStart) / 1000)} s: ${s.sessions} sessions, RSS ${s.rssMiB} MiB, heap used ${s.heapUsedMiB} MiB (machine idle ${Math.round(s.idleShare * 100)}%)`,
      );
    }
    const hold = medianOfRounds(holdRounds, { sessions: (r) => r.sessions, rssMiB: (r) => r.rssMiB });
    const heldMinutes = (performance.now() - holdStart) / 60_000;
    const natsDuringHold = (await varz()) - natsAtHoldStart;
    const end = await sample();
    const lessonsHeld = end.sessions / 2;
    const natsAtRest = {
      messagesIn: natsDuringHold,
      minutes: round(heldMinutes, 2),
      lessons: lessonsHeld,
      perLessonMinute: lessonsHeld > 0 ? round(natsDuringHold / heldMinutes / lessonsHeld, 2) : null,
      // The gateway's default WS_PRESENCE_INTERVAL_MS: this benchmark leaves it alone.
      presenceIntervalMs: 30_000,
    };
    console.log(
      `NATS at rest: ${natsDuringHold} messages in ${round(heldMinutes, 2)} min for ${lessonsHeld} lessons → ${natsAtRest.perLessonMinute} per lesson minute`,
    );
    for (const p of procs) if (p.child.connected) p.child.send({ type: 'report' });
    await sleep(500);
    const cpu = round(cpuSeconds(gateway.pid) - cpu0);

    const sum = (f: (r: SocketReport) => number) => [...reports.values()].reduce((a, r) => a + f(r), 0);
    const merge = (f: (r: SocketReport) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const r of reports.values()) for (const [k, v] of Object.entries(f(r))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    const endKb = rssKb(gateway.pid);
    const result = {
      benchmark: 'gateway-sockets',
      what: 'concurrent authenticated WebSockets (each a joined session) held by one gateway process with heartbeats, and its RSS',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg().map((x) => round(x)) },
      setup: {
        target,
        clientProcesses: clients,
        helloConcurrencyPerClient: helloConcurrency,
        heartbeatMs,
        presenceIntervalMs: 30_000,
        holdSeconds: holdS,
        socketsPerMeeting: 2,
        participant:
          participant === 'real'
            ? 'the participant service (process, Postgres) and the meeting service: every socket is a full join'
            : 'stub answering svc.participant.join/presence without a database (bench/lib/stub-participant.ts): the gateway does all its own work (token check, subscriptions, presence), the join itself is not measured',
        openFilesLimit: limits,
        note: 'the gateway process inherits this open-files limit; each socket is one descriptor, so it can hold at most (hard limit − the ~30 descriptors it needs itself)',
      },
      target: { sockets: 20_000, rssMiB: 1_024 },
      held: {
        /** Median over the hold's 5 s rounds (never the best one), with each round's idle CPU. */
        median: hold.median,
        range: hold.range,
        idleShare: hold.idleShare,
        sessionsAtEndOfHold: end.sessions,
        socketsAtEndOfHold: end.sockets,
        sessionsWhenOpened: opened.sessions,
        clientView: {
          attempted: sum((r) => r.attempted),
          open: sum((r) => r.open),
          joined: sum((r) => r.joined),
          failedHellos: sum((r) => r.failedHellos),
          connectErrors: sum((r) => r.connectErrors),
        },
        errors: merge((r) => r.errors),
        closeCodes: merge((r) => r.closeCodes),
      },
      opening: { seconds: round(openSeconds, 1), joinsPerSecond: Math.round(opened.sessions / openSeconds) },
      gatewayRss: {
        baselineMiB: round(baselineKb / 1024, 1),
        peakMiB: round(peakKb / 1024, 1),
        endMiB: round(endKb / 1024, 1),
        perSocketKiB: end.sessions > 0 ? round((endKb - baselineKb) / end.sessions, 1) : null,
      },
      gatewayCpuSeconds: cpu,
      natsAtRest,
      verdict: { sockets20k: end.sessions >= 20_000, under1GiB: peakKb < 1024 * 1024 },
      samples,
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    await writeResult(resultFile, result);
    console.log(
      `held ${end.sessions} authenticated sockets; gateway RSS peak ${result.gatewayRss.peakMiB} MiB (${result.gatewayRss.perSocketKiB} KiB/socket); wrote bench/results/${resultFile} in ${result.wallSeconds} s`,
    );
  } finally {
    await cleanup();
  }
}

runBenchmark(main);
