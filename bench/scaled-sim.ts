/**
 * The capacity model against a scaled stack on this machine (issue 16): the local stack as the
 * chart runs it — GATEWAYS gateways, two replicas of every service, a three-node NATS cluster
 * with every stream on all three — driven with REST joins at the largest load it holds, and the
 * measured throughput compared with what the model predicts for that configuration.
 *
 *   pnpm exec tsx bench/scaled-sim.ts     (GATEWAYS=2 CONNECTIONS=64 JOINS=4000 ROUNDS=3)
 *
 * Anchor, measured in the same run with rounds alternating: one replica of everything on one
 * NATS server — the configuration the model's cost figures come from (bench/rest-join.ts). The
 * model's prediction for a configuration on one machine is the machine's cores divided by the
 * CPU a join costs (all processes share the cores): from the committed figures, and again from
 * the CPU per join this run measured on the scaled stack, which separates "joins cost more when
 * scaled out" from "the machine's cores are not what limits". Writes bench/results/scaled-sim.json.
 */
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { type DrillStack, startDrillStack } from './drills/stack';
import { loadFigures } from './lib/figures';
import { type BenchMeeting, insertOpenMeetings } from './lib/meetings';
import { cpuMeter, type Measured, natsPid, postgresCpuSeconds } from './lib/processes';
import { idleMeter, median, medianOfRounds, ratio } from './lib/rounds';
import { writeResult } from './lib/results';
import { round } from './lib/stats';

const gateways = Number(process.env.GATEWAYS ?? 2);
const connections = Number(process.env.CONNECTIONS ?? 64);
const joinsPerRound = Number(process.env.JOINS ?? 4_000);
const rounds = Number(process.env.ROUNDS ?? 3);

type Config = 'scaled' | 'single';

interface Stack {
  config: Config;
  s: DrillStack;
  procs: Measured[];
}

async function start(config: Config): Promise<Stack> {
  const s = await startDrillStack({
    replicas: config === 'scaled' ? 2 : 1,
    gateways: config === 'scaled' ? gateways : 1,
    natsNodes: config === 'scaled' ? 3 : 1,
    gatewayEnv: { REST_USER_RATE_PER_MINUTE: '100000000' },
    // Sessions joined here never open a socket: no presence to expect, no sweep closing them mid-round.
    serviceEnv: { participant: { PRESENCE_STALE_SECONDS: '0' } },
  });
  const natsPorts = s.h.cluster ? s.h.cluster.nodes.map((n) => n.port) : [s.h.nats.port];
  const procs: Measured[] = [
    ...s.replicas.map((r) => ({ name: r.service, pid: r.proc.pid })),
    ...natsPorts.map((port) => ({ name: 'nats-server', pid: natsPid(port) })),
    { name: 'postgres', cpuSeconds: () => postgresCpuSeconds(s.h.postgres?.port ?? 0) },
  ];
  return { config, s, procs };
}

interface Job {
  gateway: number;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Fresh open meetings for one round (made before its clock starts), tutors then students, dealt to the gateways in turn. */
async function jobsFor(stack: Stack, joins: number): Promise<Job[]> {
  const ms: BenchMeeting[] = await insertOpenMeetings(stack.s.h.db!, Math.ceil(joins / 2));
  const people = [...ms.map((m) => [m, m.tutorId] as const), ...ms.map((m) => [m, m.studentId] as const)];
  return Promise.all(
    people.map(async ([m, userId], i) => ({
      gateway: i % stack.s.gateways.length,
      path: `/api/video/meetings/${m.meetingId}/join`,
      headers: { authorization: `Bearer ${await stack.s.token(userId)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ passcode: m.passcode, displayName: 'Bench' }),
    })),
  );
}

/** One autocannon per gateway, the connections split between them, all at once; timed to the last answer. */
async function drive(stack: Stack, jobs: Job[]) {
  const t0 = performance.now();
  let last = t0;
  const per = stack.s.gateways.map((g, gi) => {
    const mine = jobs.filter((j) => j.gateway === gi);
    let i = 0;
    return new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: g.baseUrl,
          connections: Math.max(1, Math.round(connections / stack.s.gateways.length)),
          amount: mine.length,
          timeout: 10,
          requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, ...mine[i++ % mine.length]! }) }],
        },
        (err, r) => (err ? reject(err) : resolve(r)),
      );
      instance.on('response', () => {
        last = performance.now();
      });
    });
  });
  const results = await Promise.all(per);
  const seconds = (last - t0) / 1000;
  const ok = results.reduce((a, r) => a + r['2xx'], 0);
  return {
    seconds: round(seconds),
    requests: results.reduce((a, r) => a + r.requests.total, 0),
    ok,
    non2xx: results.reduce((a, r) => a + r.non2xx, 0),
    errors: results.reduce((a, r) => a + r.errors + r.timeouts, 0),
    joinsPerSecond: Math.round(ok / seconds),
    // The slowest gateway's percentiles: what the worst-served clients saw.
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
  };
}

/** CPU ms per answered join, summed by process kind (both replicas of a service together). */
function cpuMsPerJoin(used: ReturnType<ReturnType<typeof cpuMeter>>, ok: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, cores] of Object.entries(used.perProcess)) {
    const kind = k.replace(/#\d+$/, '');
    out[kind] = (out[kind] ?? 0) + (cores * used.seconds * 1000) / Math.max(1, ok);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v, 2)]));
}

const total = (m: Record<string, number | undefined>) => Object.values(m).reduce<number>((a, b) => a + (b ?? 0), 0);

async function main() {
  const cores = cpus().length;
  const figures = loadFigures();
  const committedCpuMs = total(figures.join.cpuMs);
  const predictedCommitted = (cores * 1000) / committedCpuMs;
  console.log(
    `model: ${round(committedCpuMs, 2)} CPU ms per join (${figures.join.source}) → ${Math.round(predictedCommitted)} joins/s on ${cores} cores, whatever the replicas`,
  );
  const stacks: Stack[] = [];
  try {
    // One at a time: two stacks starting at once on 2 cores mostly wait for each other.
    stacks.push(await start('scaled'));
    stacks.push(await start('single'));
    for (const st of stacks) console.log(`${st.config}: ${st.s.replicas.map((r) => r.id).join(', ')}, NATS ×${st.s.h.cluster ? 3 : 1}, Postgres`);
    // Warm up both (JIT, pools, the rate-limit bucket).
    for (const st of stacks) await drive(st, await jobsFor(st, 600));

    const loadBefore = loadavg();
    type Run = Awaited<ReturnType<typeof drive>> & { config: Config; round: number; idleShare: number; cpuMsPerJoin: Record<string, number> };
    const runs: Run[] = [];
    for (let n = 1; n <= rounds; n++) {
      for (const st of stacks) {
        const jobs = await jobsFor(st, joinsPerRound);
        const idle = idleMeter();
        const cpu = cpuMeter(st.procs);
        const r = await drive(st, jobs);
        const used = cpu();
        const run: Run = { ...r, config: st.config, round: n, ...idle(), cpuMsPerJoin: cpuMsPerJoin(used, r.ok) };
        runs.push(run);
        console.log(
          `  round ${n}/${rounds} ${st.config}: ${run.joinsPerSecond} joins/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, non-2xx ${run.non2xx}, errors ${run.errors}, ` +
            `${round(total(run.cpuMsPerJoin), 2)} CPU ms/join (machine idle ${Math.round(run.idleShare * 100)}%)`,
        );
      }
    }
    const of = (c: Config) => runs.filter((r) => r.config === c);
    const medians = Object.fromEntries(
      (['scaled', 'single'] as const).map((c) => [
        c,
        medianOfRounds(of(c), {
          joinsPerSecond: (r) => r.joinsPerSecond,
          p50Ms: (r) => r.p50Ms,
          p99Ms: (r) => r.p99Ms,
          non2xx: (r) => r.non2xx,
          cpuMsPerJoin: (r) => total(r.cpuMsPerJoin),
        }),
      ]),
    ) as Record<Config, ReturnType<typeof medianOfRounds>>;
    const cpuByKind = (c: Config) => {
      const kinds = Object.keys(of(c)[0]?.cpuMsPerJoin ?? {});
      return Object.fromEntries(kinds.map((k) => [k, median(of(c).map((r) => r.cpuMsPerJoin[k] ?? 0))]));
    };
    const scaled = medians.scaled.median as Record<string, number>;
    const single = medians.single.median as Record<string, number>;
    const predictedFromRun = (cores * 1000) / (scaled.cpuMsPerJoin ?? Number.NaN);
    const headline = {
      scaledJoinsPerSecond: scaled.joinsPerSecond,
      singleJoinsPerSecond: single.joinsPerSecond,
      ratioScaledToSingle: ratio(scaled.joinsPerSecond, single.joinsPerSecond),
      model: {
        predictedJoinsPerSecond: Math.round(predictedCommitted),
        measuredOverPredicted: ratio(scaled.joinsPerSecond, predictedCommitted),
        cpuMsPerJoinCommitted: round(committedCpuMs, 2),
        cpuMsPerJoinScaled: scaled.cpuMsPerJoin,
        cpuMsPerJoinSingle: single.cpuMsPerJoin,
        predictedFromThisRunsCpu: Math.round(predictedFromRun),
        measuredOverPredictedFromThisRunsCpu: ratio(scaled.joinsPerSecond, predictedFromRun),
      },
      cpuMsPerJoinByKind: { scaled: cpuByKind('scaled'), single: cpuByKind('single') },
      medianIdleShare: round(median(runs.map((r) => r.idleShare)), 2),
    };
    console.log(JSON.stringify(headline, null, 2));
    const result = {
      benchmark: 'scaled-sim',
      what: 'REST joins against the chart-shaped stack (gateways, 2 of every service, 3-node NATS with R3 streams) vs the capacity model',
      date: new Date().toISOString(),
      machine: { cpus: cores, cpu: cpus()[0]?.model, node: process.version },
      setup: {
        gateways,
        connections,
        joinsPerRound,
        rounds,
        anchor: 'one replica of everything on one NATS server (what the model figures come from), same run, rounds alternating',
        prediction: "machine cores × 1000 / CPU ms per join (the model's joins-per-second for one machine whatever the replica count)",
        headline: "the median over the rounds, never the best round; idleShare is the machine's idle CPU during each round (/proc/stat)",
      },
      load: { before: loadBefore, after: loadavg() },
      headline,
      medians,
      runs,
    };
    const written = await writeResult('scaled-sim.json', result);
    console.log(`wrote ${written}`);
  } finally {
    for (const st of stacks) await st.s.stop().catch(() => {});
  }
}

await main();
process.exit(0);
