/**
 * `npm run capacity -- --lessons 100000 --peak-start-share 0.5 --relay-share 0.22`: the
 * capacity model (bench/lib/capacity.ts) over the figures the benchmarks committed in
 * bench/results (`npm run bench` regenerates them). Prints the figures, the assumptions and
 * the plan; `--json` prints the plan as JSON; `--table 1000,10000,100000` one row per size.
 */
import { parseArgs } from 'node:util';
import {
  type Assumptions,
  type CpuMs,
  checkWorkload,
  defaultAssumptions,
  defaultWorkload,
  type Figures,
  type Plan,
  plan,
  predictedJoinsPerSecond,
  type Workload,
} from './lib/capacity';
import { loadFigures, MissingFigure } from './lib/figures';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const costs = (c: CpuMs) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${fmt(v ?? 0, 3)}`)
    .join(', ');

function printPlan(figures: Figures, p: Plan): void {
  const w = p.workload;
  console.log(
    `Workload: ${fmt(w.lessons)} concurrent lessons of ${w.groupSize}, ${fmt(w.peakStartShare * 100)}% starting within ${w.burstSeconds} s, ${fmt(w.relayShare * 100)}% of participants relayed`,
  );
  console.log('\nMeasured figures (CPU ms per unit, by process):');
  console.log(`  per join:   ${costs(figures.join.cpuMs)}`);
  console.log(
    `              ${fmt(figures.join.natsMessages, 1)} NATS messages, ${fmt(figures.join.postgresCommits, 1)} Postgres transactions (reads too), ${fmt(figures.join.postgresRowsWritten, 1)} rows written   [${figures.join.source}]`,
  );
  console.log(`  per signal: ${costs(figures.signal.cpuMs)}   [${figures.signal.source}]`);
  console.log(`  per booking: ${costs(figures.booking.cpuMs)}   [${figures.booking.source}]`);
  console.log(
    `  per socket: ${figures.socket.gatewayKiB} KiB of gateway memory (baseline ${figures.socket.gatewayBaselineMiB} MiB)   [${figures.socket.source}]`,
  );
  console.log(`  signals per lesson start: ${figures.signalsPerLessonStart.count}   [${figures.signalsPerLessonStart.source}]`);
  console.log(
    figures.atRest
      ? `  NATS messages per lesson minute at rest: ${fmt(figures.atRest.natsMessagesPerLessonMinute, 2)} (presence every ${figures.atRest.presenceIntervalMs / 1000} s)   [${figures.atRest.source}]`
      : '  NATS messages per lesson minute at rest: not measured (bench/gateway-sockets.ts): counted from the presence interval',
  );
  console.log(
    figures.scaledOut
      ? `  scaled out (a join's CPU × this as the chart runs it): ${costs(figures.scaledOut.factor)}   [${figures.scaledOut.source}]`
      : '  scaled out: not measured (bench/scaled-sim.ts): a join is priced as the single-replica stack ran it',
  );
  const a = p.assumptions;
  console.log('\nAssumptions (not measured here; flags change them):');
  console.log(
    `  replicas run at ≤ ${a.targetUtilisation * 100}% CPU of ${a.coresPerReplica} core (one event loop), at least ${a.minReplicas}; gateway limit ${a.gatewayMemoryMiB} MiB; ` +
      `NATS servers ${a.natsCores} cores; Postgres primary ${a.postgresCores} cores; presence every ${a.presenceIntervalMs / 1000} s; ` +
      `relayed media ${a.mediaKbps} kbit/s each way (the client's video ceiling + audio) on ${a.turnNodeGbps} Gbit/s coturn nodes`,
  );
  const r = p.rates;
  console.log('\nAt the peak:');
  console.log(
    `  ${fmt(r.joinsPerSecond)} joins/s, ${fmt(r.signalsPerSecond)} signals/s, ${fmt(r.heldSockets)} sockets held; NATS ${fmt(r.natsMessagesPerSecond)} msg/s ` +
      `(${fmt(r.natsMessagesPerLessonMinute)} per lesson minute at rest); Postgres ${fmt(r.postgresCommitsPerSecond)} commits/s, ${fmt(r.postgresRowsWrittenPerSecond)} rows/s; ` +
      `${fmt(r.relayedParticipants)} relayed participants, ${fmt(r.relayGbps, 2)} Gbit/s through coturn`,
  );
  console.log('\n  component            replicas   peak cores   load   why');
  for (const c of p.components)
    console.log(
      `  ${c.component.padEnd(20)} ${String(c.replicas).padStart(8)}   ${fmt(c.cores, 2).padStart(10)}   ${`${fmt(c.utilisation * 100)}%`.padStart(4)}   ${c.reason}`,
    );
  console.log(
    `\n  Postgres connections: ${p.postgres.connectionsWithoutPooler} from the service pools without a pooler; ${p.postgres.poolerServerConnections} server connections behind a transaction pooler`,
  );
  console.log(`  Saturates first: ${p.saturatesFirst}`);
  console.log(
    `  The one writer: a ${a.postgresCores}-core Postgres primary holds about ${fmt(p.postgresCeilingLessons)} concurrent lessons of this shape at ${a.targetUtilisation * 100}% CPU; every other component scales out`,
  );
}

function main(): void {
  const { values } = parseArgs({
    // `npm run capacity -- --lessons …` passes the `--` along.
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      lessons: { type: 'string' },
      'peak-start-share': { type: 'string' },
      'relay-share': { type: 'string' },
      'group-size': { type: 'string' },
      'burst-seconds': { type: 'string' },
      'target-utilisation': { type: 'string' },
      'gateway-memory-mib': { type: 'string' },
      'media-kbps': { type: 'string' },
      'turn-node-gbps': { type: 'string' },
      'postgres-cores': { type: 'string' },
      'nats-cores': { type: 'string' },
      table: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const num = (v: string | undefined, fallback: number, flag: string) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new RangeError(`--${flag} must be a number, not ${JSON.stringify(v)}`);
    return n;
  };
  const workload: Workload = {
    lessons: num(values.lessons, defaultWorkload.lessons, 'lessons'),
    peakStartShare: num(values['peak-start-share'], defaultWorkload.peakStartShare, 'peak-start-share'),
    relayShare: num(values['relay-share'], defaultWorkload.relayShare, 'relay-share'),
    groupSize: num(values['group-size'], defaultWorkload.groupSize, 'group-size'),
    burstSeconds: num(values['burst-seconds'], defaultWorkload.burstSeconds, 'burst-seconds'),
  };
  const assumptions: Assumptions = {
    ...defaultAssumptions,
    targetUtilisation: num(values['target-utilisation'], defaultAssumptions.targetUtilisation, 'target-utilisation'),
    gatewayMemoryMiB: num(values['gateway-memory-mib'], defaultAssumptions.gatewayMemoryMiB, 'gateway-memory-mib'),
    mediaKbps: num(values['media-kbps'], defaultAssumptions.mediaKbps, 'media-kbps'),
    turnNodeGbps: num(values['turn-node-gbps'], defaultAssumptions.turnNodeGbps, 'turn-node-gbps'),
    postgresCores: num(values['postgres-cores'], defaultAssumptions.postgresCores, 'postgres-cores'),
    natsCores: num(values['nats-cores'], defaultAssumptions.natsCores, 'nats-cores'),
  };
  const problems = checkWorkload(workload);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const figures = loadFigures();
  if (values.table) {
    const sizes = values.table.split(',').map((s) => num(s, 0, 'table'));
    const plans = sizes.map((lessons) => plan(figures, { ...workload, lessons }, assumptions));
    if (values.json) return void console.log(JSON.stringify(plans, null, 2));
    const names = plans[0]?.components.map((c) => c.component) ?? [];
    console.log(`| concurrent lessons | ${names.join(' | ')} | NATS msg/s | Postgres commits/s | coturn Gbit/s | saturates first |`);
    console.log(`|---:|${names.map(() => '---:').join('|')}|---:|---:|---:|---|`);
    for (const p of plans)
      console.log(
        `| ${fmt(p.workload.lessons)} | ${p.components.map((c) => `${c.replicas} (${fmt(c.utilisation * 100)}%)`).join(' | ')} | ${fmt(p.rates.natsMessagesPerSecond)} | ${fmt(p.rates.postgresCommitsPerSecond)} | ${fmt(p.rates.relayGbps, 2)} | ${p.saturatesFirst} |`,
      );
    return;
  }
  const p = plan(figures, workload, assumptions);
  if (values.json) return void console.log(JSON.stringify({ figures, plan: p, check: predictedJoinsPerSecond(figures) }, null, 2));
  printPlan(figures, p);
  const check = predictedJoinsPerSecond(figures);
  console.log(
    `\nModel vs measurement (rest-join's set-up, every process on this ${figures.join.machineCores}-core machine): predicted ${fmt(check.predicted)} joins/s, measured ${fmt(check.measured)} (model off by ${fmt(check.error * 100)}%)`,
  );
}

try {
  main();
} catch (err) {
  const parseError = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (err instanceof RangeError || err instanceof MissingFigure || parseError) {
    console.error(`capacity: ${(err as Error).message}`);
    process.exit(2);
  }
  throw err;
}
