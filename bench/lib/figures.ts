/**
 * The figures the capacity model reads, out of the committed benchmark results
 * (bench/results/*.json): each with the run it came from. A figure missing from an older
 * result file is an error that names the benchmark to run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CpuMs, type Figures, type ProcessKind, processKinds } from './capacity';
import { median } from './rounds';

const defaultResultsDir = join(import.meta.dirname, '..', 'results');

export class MissingFigure extends Error {
  override readonly name = 'MissingFigure';
  readonly code = 'missing_figure';
}

// biome-ignore lint/suspicious/noExplicitAny: result files are read field by field, each checked
function result(dir: string, name: string): any {
  try {
    return JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  } catch (err) {
    throw new MissingFigure(`bench/results/${name}.json cannot be read (${(err as Error).message}): run \`npm run bench -- ${name}\``);
  }
}

function need<T>(value: T | undefined | null, what: string, bench: string): T {
  if (value === undefined || value === null || (typeof value === 'number' && !Number.isFinite(value)))
    throw new MissingFigure(`bench/results/${bench}.json has no ${what}: run \`npm run bench -- ${bench}\``);
  return value;
}

const kindOf = (process: string): ProcessKind | undefined => {
  const k = process.replace(/#\d+$/, '');
  return (processKinds as readonly string[]).includes(k) ? (k as ProcessKind) : undefined;
};

/** CPU ms per unit from rounds of { cores by process, units per second }: summed by kind, median over rounds. */
function perUnit(rounds: { perProcess: Record<string, number>; perSecond: number }[]): CpuMs {
  const byKind = new Map<ProcessKind, number[]>();
  for (const r of rounds) {
    const sums = new Map<ProcessKind, number>();
    for (const [p, cores] of Object.entries(r.perProcess)) {
      const k = kindOf(p);
      if (k) sums.set(k, (sums.get(k) ?? 0) + (cores * 1000) / r.perSecond);
    }
    for (const [k, v] of sums) byKind.set(k, [...(byKind.get(k) ?? []), v]);
  }
  return Object.fromEntries([...byKind].map(([k, vs]) => [k, median(vs)]));
}

export function loadFigures(dir = defaultResultsDir): Figures {
  const rest = result(dir, 'rest-join');
  const joinKeys = Object.keys(rest.headline?.cpuMsPerRequest ?? {}).filter((k) => k.startsWith('POST') && !k.includes('stand-in'));
  // The concurrency with the highest measured throughput: the stack at its best steady state.
  const joinKey = need(
    joinKeys.sort((a, b) => (rest.headline.median[b]?.median.perSecond ?? 0) - (rest.headline.median[a]?.median.perSecond ?? 0))[0],
    'full-stack join CPU per request',
    'rest-join',
  );
  const activity = need(rest.headline.activityPerRequest?.[joinKey], 'NATS messages and Postgres commits per join', 'rest-join');
  const relay = result(dir, 'signaling-relay');
  const satRounds = need(relay.results?.lessoncall?.saturation?.rounds, 'lessoncall saturation rounds', 'signaling-relay') as {
    deliveredPerSecond: number;
    cpu: { perProcess: Record<string, number> };
  }[];
  const start = result(dir, 'lesson-start');
  const candidates = need(start.setup?.candidatesPerSide, 'candidates per side', 'lesson-start') as number[];
  const sockets = result(dir, 'gateway-sockets');
  const ingest = result(dir, 'booking-ingest');
  const ingestRounds = need(ingest.rounds?.service, 'booking ingest rounds', 'booking-ingest') as {
    sustainedEventsPerS: number;
    cpu: { perProcess: Record<string, number> };
  }[];
  return {
    ...scaledOutOf(dir),
    join: {
      cpuMs: rest.headline.cpuMsPerRequest[joinKey],
      natsMessages: need(activity.natsMessagesIn, 'NATS messages per join', 'rest-join'),
      postgresCommits: need(activity.postgresCommits, 'Postgres commits per join', 'rest-join'),
      postgresRowsWritten: need(activity.postgresRowsWritten, 'Postgres rows per join', 'rest-join'),
      measuredJoinsPerSecond: need(rest.headline.median[joinKey]?.median.perSecond, 'joins per second', 'rest-join'),
      machineCores: need(rest.machine?.cpus, 'machine cores', 'rest-join'),
      source: `rest-join ${rest.date} (${joinKey}, median of ${rest.setup?.rounds} rounds)`,
    },
    signal: {
      cpuMs: perUnit(satRounds.map((r) => ({ perProcess: r.cpu.perProcess, perSecond: r.deliveredPerSecond }))),
      source: `signaling-relay ${relay.date} (saturation, median of ${satRounds.length} rounds)`,
    },
    signalsPerLessonStart: {
      count: 2 + candidates.reduce((s, c) => s + c, 0),
      source: `lesson-start setup: offer + answer + ${candidates.join(' + ')} candidates`,
    },
    ...(sockets.natsAtRest?.perLessonMinute
      ? {
          atRest: {
            natsMessagesPerLessonMinute: sockets.natsAtRest.perLessonMinute,
            presenceIntervalMs: sockets.natsAtRest.presenceIntervalMs,
            source: `gateway-sockets ${sockets.date} (${sockets.natsAtRest.lessons} lessons held ${sockets.natsAtRest.minutes} min)`,
          },
        }
      : {}),
    socket: {
      gatewayKiB: need(sockets.gatewayRss?.perSocketKiB, 'gateway KiB per socket', 'gateway-sockets'),
      gatewayBaselineMiB: need(sockets.gatewayRss?.baselineMiB, 'gateway baseline RSS', 'gateway-sockets'),
      source: `gateway-sockets ${sockets.date} (${sockets.held?.median?.sessions} sockets held)`,
    },
    booking: {
      cpuMs: perUnit(ingestRounds.map((r) => ({ perProcess: r.cpu.perProcess, perSecond: r.sustainedEventsPerS }))),
      source: `booking-ingest ${ingest.at} (median of ${ingestRounds.length} rounds)`,
    },
  };
}

/**
 * The scaled-out factor by process kind (bench/scaled-sim.ts, median of its rounds): optional,
 * since the model works without it (pricing a join as the single-replica stack did).
 */
function scaledOutOf(dir: string): Pick<Figures, 'scaledOut'> {
  let sim: { date?: string; setup?: { rounds?: number }; headline?: { cpuMsPerJoinByKind?: Record<'scaled' | 'single', Record<string, number>> } };
  try {
    sim = JSON.parse(readFileSync(join(dir, 'scaled-sim.json'), 'utf8'));
  } catch {
    return {};
  }
  const byKind = sim.headline?.cpuMsPerJoinByKind;
  if (!byKind) return {};
  const factor: CpuMs = {};
  for (const [process, scaled] of Object.entries(byKind.scaled)) {
    const kind = kindOf(process);
    const single = byKind.single[process];
    if (kind && single && single > 0 && Number.isFinite(scaled)) factor[kind] = scaled / single;
  }
  return {
    scaledOut: {
      factor,
      source: `scaled-sim ${sim.date} (2 of every service, 3-node NATS, R3; ÷ 1 of each on 1 NATS server, same run, median of ${sim.setup?.rounds} rounds)`,
    },
  };
}
