/**
 * The capacity model: a workload (concurrent lessons, how many start in the same minute, how
 * many are relayed) and the measured per-request costs (bench/results) → replicas of each
 * service, the NATS cluster and message rate, Postgres write rate and connections, coturn
 * nodes and relay bandwidth. Pure: `npm run capacity` reads the figures and prints the plan.
 *
 * The model is linear in the load, which is what the benchmarks show below saturation: each
 * process's CPU per join, per relayed signal and per booking, and the gateway's memory per held
 * socket. Everything a benchmark does not measure is an assumption, printed as such.
 */

/** A cost per unit of work, in CPU milliseconds, by process kind. */
export type CpuMs = Partial<Record<ProcessKind, number>>;

export const processKinds = ['gateway', 'signaling', 'meeting', 'participant', 'turn', 'nats-server', 'postgres'] as const;
export type ProcessKind = (typeof processKinds)[number];

/** What the benchmarks measured (bench/results/*.json), each with where it came from. */
export interface Figures {
  join: {
    cpuMs: CpuMs;
    natsMessages: number;
    postgresCommits: number;
    postgresRowsWritten: number;
    /** The whole stack on this machine: measured joins per second and the cores it had. */
    measuredJoinsPerSecond: number;
    machineCores: number;
    source: string;
  };
  signal: { cpuMs: CpuMs; source: string };
  /** Offer, answer and ICE candidates of one lesson start (both sides). */
  signalsPerLessonStart: { count: number; source: string };
  socket: { gatewayKiB: number; gatewayBaselineMiB: number; source: string };
  /** NATS messages per lesson and minute while its sockets only hold (presence and replies), at the presence interval it ran with. */
  atRest?: { natsMessagesPerLessonMinute: number; presenceIntervalMs: number; source: string };
  booking: { cpuMs: CpuMs; source: string };
  /**
   * What running as the chart does (two or more replicas of everything, NATS as a three-node
   * cluster with every stream on all three) does to a join's CPU, by process kind: the scaled
   * stack's CPU per join ÷ the single-replica stack's, both measured in one run
   * (bench/scaled-sim.ts). Without it the model prices a join as the single-replica benchmark did.
   */
  scaledOut?: { factor: CpuMs; source: string };
}

export interface Workload {
  /** Lessons in progress at the peak. */
  lessons: number;
  /** Share of those lessons that start within the same minute (on the hour). */
  peakStartShare: number;
  /** Share of participants whose media goes through coturn. */
  relayShare: number;
  /** Participants per lesson (2 for 1:1). */
  groupSize: number;
  /** Seconds over which the peak's joins arrive (60: spread over the minute). */
  burstSeconds: number;
}

export interface Assumptions {
  /** Keep each replica at this share of its CPU at the peak (headroom for spikes and a lost node). */
  targetUtilisation: number;
  /** Cores one replica of a Node service uses at most (one event loop). */
  coresPerReplica: number;
  /** Minimum replicas of every stateless service (a rolling update, a node lost). */
  minReplicas: number;
  /** The gateway pod's memory limit; sockets fill it up to targetUtilisation. */
  gatewayMemoryMiB: number;
  /** Media through coturn per relayed participant and direction (kbit/s): the client's video ceiling plus audio. */
  mediaKbps: number;
  /** Usable bandwidth of one coturn node (Gbit/s). */
  turnNodeGbps: number;
  /** Cores of one NATS server. */
  natsCores: number;
  /** Cores of the Postgres primary. */
  postgresCores: number;
  /** Connections each service replica's pool opens (DATABASE_POOL_MAX). */
  poolPerReplica: number;
  /** Presence refresh per socket (ms): each is a NATS request and its reply. */
  presenceIntervalMs: number;
}

export const defaultWorkload: Workload = { lessons: 1_000, peakStartShare: 0.5, relayShare: 0.22, groupSize: 2, burstSeconds: 60 };

export const defaultAssumptions: Assumptions = {
  targetUtilisation: 0.6,
  coresPerReplica: 1,
  minReplicas: 2,
  gatewayMemoryMiB: 1_024,
  mediaKbps: 1_540,
  turnNodeGbps: 10,
  natsCores: 2,
  postgresCores: 4,
  poolPerReplica: 10,
  presenceIntervalMs: 30_000,
};

export interface ComponentPlan {
  component: string;
  replicas: number;
  /** CPU cores the peak needs (before headroom). */
  cores: number;
  /** What decided the replica count. */
  reason: string;
  /** The peak's load as a share of what these replicas hold at full CPU (the first to saturate has the highest). */
  utilisation: number;
}

export interface Plan {
  workload: Workload;
  assumptions: Assumptions;
  rates: {
    joinsPerSecond: number;
    signalsPerSecond: number;
    heldSockets: number;
    natsMessagesPerSecond: number;
    natsMessagesPerLessonMinute: number;
    postgresCommitsPerSecond: number;
    postgresRowsWrittenPerSecond: number;
    relayedParticipants: number;
    relayGbps: number;
  };
  components: ComponentPlan[];
  postgres: { connectionsWithoutPooler: number; poolerServerConnections: number };
  /** The component with the least headroom at this peak. */
  saturatesFirst: string;
  /** Concurrent lessons (same shape of peak) at which the one Postgres primary reaches the target utilisation: the ceiling that replicas cannot lift. */
  postgresCeilingLessons: number;
}

const cpuOf = (costMs: CpuMs, kind: ProcessKind, perSecond: number) => ((costMs[kind] ?? 0) * perSecond) / 1000;

export function checkWorkload(w: Workload): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(w.lessons) && w.lessons > 0)) problems.push('--lessons must be a whole number above 0');
  if (!(w.peakStartShare > 0 && w.peakStartShare <= 1)) problems.push('--peak-start-share must be in (0, 1]');
  if (!(w.relayShare >= 0 && w.relayShare <= 1)) problems.push('--relay-share must be in [0, 1]');
  if (!(Number.isInteger(w.groupSize) && w.groupSize >= 2)) problems.push('--group-size must be a whole number of at least 2');
  if (w.groupSize > 4) problems.push('--group-size above 4 needs the SFU (the mesh stops at four); the model has no SFU figures yet');
  if (!(w.burstSeconds >= 1 && w.burstSeconds <= 3_600)) problems.push('--burst-seconds must be between 1 and 3600');
  return problems;
}

export function plan(figures: Figures, workload: Workload, assumptions: Assumptions = defaultAssumptions): Plan {
  const problems = checkWorkload(workload);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const a = assumptions;
  const { lessons, groupSize } = workload;
  const startingLessons = lessons * workload.peakStartShare;
  const joinsPerSecond = (startingLessons * groupSize) / workload.burstSeconds;
  // A mesh: every pair of participants negotiates once.
  const pairs = (groupSize * (groupSize - 1)) / 2;
  const signalsPerSecond = (startingLessons * pairs * figures.signalsPerLessonStart.count) / workload.burstSeconds;
  const heldSockets = lessons * groupSize;
  // Bookings arrive ahead of the hour; the peak minute still ingests the next hour's at the same pace.
  const bookingsPerSecond = startingLessons / 3_600;
  const presencePerSecond = (heldSockets * 1_000) / a.presenceIntervalMs;

  const joinCpuMs = scaledJoinCpuMs(figures);
  const demand = (kind: ProcessKind) =>
    cpuOf(joinCpuMs, kind, joinsPerSecond) + cpuOf(figures.signal.cpuMs, kind, signalsPerSecond) + cpuOf(figures.booking.cpuMs, kind, bookingsPerSecond);
  const perReplica = a.coresPerReplica * a.targetUtilisation;
  const components: ComponentPlan[] = [];
  for (const kind of ['gateway', 'signaling', 'meeting', 'participant', 'turn'] as const) {
    const cores = demand(kind);
    let replicas = Math.max(a.minReplicas, Math.ceil(cores / perReplica));
    let reason = replicas === a.minReplicas ? `minimum (${a.minReplicas})` : `CPU at ${Math.round(a.targetUtilisation * 100)}% of ${a.coresPerReplica} core`;
    let utilisation = cores / (replicas * a.coresPerReplica);
    if (kind === 'gateway') {
      const usableMiB = a.gatewayMemoryMiB * a.targetUtilisation - figures.socket.gatewayBaselineMiB;
      const byMemory = Math.ceil((heldSockets * figures.socket.gatewayKiB) / 1024 / Math.max(1, usableMiB));
      if (byMemory > replicas) {
        replicas = byMemory;
        reason = `memory: ${Math.round(heldSockets / byMemory)} sockets each in ${a.gatewayMemoryMiB} MiB`;
      }
      const memoryShare = (heldSockets * figures.socket.gatewayKiB) / 1024 / replicas / (a.gatewayMemoryMiB - figures.socket.gatewayBaselineMiB);
      utilisation = Math.max(cores / (replicas * a.coresPerReplica), memoryShare);
    }
    components.push({ component: kind, replicas, cores, reason, utilisation });
  }

  // Not measured: a signal is published once on the direct path and twice via the signaling
  // service; 3 also counts the delivery to the receiving gateway (an upper bound).
  const natsMessagesPerSignal = 3;
  const natsMessagesPerSecond = joinsPerSecond * figures.join.natsMessages + signalsPerSecond * natsMessagesPerSignal + presencePerSecond * 2;
  const natsCores = demand('nats-server');
  // JetStream replicas = 3 needs three servers; more when one server's CPU does not hold the rate.
  const natsServers = Math.max(3, Math.ceil(natsCores / (a.natsCores * a.targetUtilisation)) | 1);
  components.push({
    component: 'nats-server',
    replicas: natsServers,
    cores: natsCores,
    reason:
      natsServers === 3 ? 'JetStream replicas = 3' : `CPU at ${Math.round(a.targetUtilisation * 100)}% of ${a.natsCores} cores (odd, for the Raft quorum)`,
    utilisation: natsCores / (natsServers * a.natsCores),
  });

  const postgresCores = demand('postgres');
  components.push({
    component: 'postgres (primary)',
    replicas: 1,
    cores: postgresCores,
    reason: `one writer, ${a.postgresCores} cores`,
    utilisation: postgresCores / a.postgresCores,
  });

  const relayedParticipants = heldSockets * workload.relayShare;
  // Each relayed participant's allocation carries its upstream and its downstream, in and out.
  const relayGbps = (relayedParticipants * a.mediaKbps * 4) / 1e6;
  const turnNodes = Math.max(a.minReplicas, Math.ceil(relayGbps / (a.turnNodeGbps * a.targetUtilisation)));
  components.push({
    component: 'coturn',
    replicas: turnNodes,
    cores: 0,
    reason: turnNodes === a.minReplicas ? `minimum (${a.minReplicas})` : `bandwidth at ${Math.round(a.targetUtilisation * 100)}% of ${a.turnNodeGbps} Gbit/s`,
    utilisation: relayGbps / (turnNodes * a.turnNodeGbps),
  });

  const dbReplicas = components.filter((c) => c.component === 'meeting' || c.component === 'participant').reduce((n, c) => n + c.replicas, 0);
  const saturatesFirst = [...components].sort((x, y) => y.utilisation - x.utilisation)[0]?.component ?? 'none';
  return {
    workload,
    assumptions,
    rates: {
      joinsPerSecond,
      signalsPerSecond,
      heldSockets,
      natsMessagesPerSecond,
      // Steady state, between starts: measured (per participant, at the assumed presence
      // interval), else each socket's presence refresh (a request and its reply).
      natsMessagesPerLessonMinute: figures.atRest
        ? (figures.atRest.natsMessagesPerLessonMinute / 2) * groupSize * (figures.atRest.presenceIntervalMs / a.presenceIntervalMs)
        : groupSize * (60_000 / a.presenceIntervalMs) * 2,
      postgresCommitsPerSecond: joinsPerSecond * figures.join.postgresCommits,
      postgresRowsWrittenPerSecond: joinsPerSecond * figures.join.postgresRowsWritten,
      relayedParticipants,
      relayGbps,
    },
    components,
    postgres: {
      connectionsWithoutPooler: dbReplicas * a.poolPerReplica,
      // A transaction pooler needs about two server connections per core doing the work.
      poolerServerConnections: Math.max(10, Math.ceil(a.postgresCores * 2)),
    },
    saturatesFirst,
    postgresCeilingLessons: postgresCores > 0 ? Math.floor((lessons * a.postgresCores * a.targetUtilisation) / postgresCores) : Number.POSITIVE_INFINITY,
  };
}

/** A join's CPU by process as the deployment runs it: the single-replica figure × the scaled-out factor, where measured. */
export function scaledJoinCpuMs(figures: Figures): CpuMs {
  const factor = figures.scaledOut?.factor ?? {};
  return Object.fromEntries(Object.entries(figures.join.cpuMs).map(([k, v]) => [k, (v ?? 0) * (factor[k as ProcessKind] ?? 1)]));
}

/**
 * What the model predicts for the benchmark's own set-up — every process on one machine of
 * `cores` cores, CPU-bound — against what the benchmark measured: how wrong the model is.
 */
export function predictedJoinsPerSecond(figures: Figures, cores = figures.join.machineCores): { predicted: number; measured: number; error: number } {
  const msPerJoin = Object.values(figures.join.cpuMs).reduce((s, v) => s + (v ?? 0), 0);
  const predicted = (cores * 1000) / msPerJoin;
  const measured = figures.join.measuredJoinsPerSecond;
  return { predicted, measured, error: (predicted - measured) / measured };
}
