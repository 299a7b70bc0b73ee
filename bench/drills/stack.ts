import { randomBytes } from 'node:crypto';
import { signDevToken } from '@lessoncall/gateway';
import { type CoturnServer, freePort, type Harness, setup, startCoturn } from '@lessoncall/kit/testing';
import { type Proc, startProcess, waitReady } from '../lib/processes';

/**
 * One replica of a service or gateway that a drill may kill and start again: same entry point,
 * environment and ports every time, so its peers see the same process come back.
 */
export interface Replica {
  /** e.g. `meeting#1`, `gateway#2`. */
  id: string;
  service: string;
  port: number;
  /** Readiness (the gateway's own port; a service's HEALTH_PORT). */
  baseUrl: string;
  /** /metrics: HEALTH_PORT for every process (the gateway serves it only there, never on its public port). */
  metricsUrl: string;
  proc: Proc;
  alive(): boolean;
  kill(signal: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
  /** Exits nobody asked for (a crash): the drill's "no process crash" check. */
  crashes: Array<{ at: number; code: number | null; signal: string | null; output: string }>;
}

export interface DrillStack {
  h: Harness;
  coturn: CoturnServer;
  turnSecret: string;
  replicas: Replica[];
  gateways: Replica[];
  of(service: string): Replica[];
  token(userId: string, role?: 'authenticated' | 'service_role'): Promise<string>;
  jwtSecret: string;
  issuer: string;
  stop(): Promise<void>;
}

export const services = ['meeting', 'participant', 'signaling', 'turn'] as const;
const issuer = 'http://127.0.0.1/auth/v1';

/**
 * The drill's stack, everything its own process on loopback: a three-node NATS cluster (every
 * stream and KV bucket on all three: JETSTREAM_REPLICAS=3), Postgres, coturn, two replicas of
 * each service and two gateways.
 */
export interface DrillStackOptions {
  /** Replicas of each service (2). */
  replicas?: number;
  /** Gateways (as many as `replicas`). */
  gateways?: number;
  /** NATS servers: 3 (a cluster, every stream on all three) or 1 (one server, streams unreplicated). */
  natsNodes?: 1 | 3;
  gatewayEnv?: Record<string, string>;
  serviceEnv?: Partial<Record<(typeof services)[number], Record<string, string>>>;
}

export async function startDrillStack(options: DrillStackOptions = {}): Promise<DrillStack> {
  const n = options.replicas ?? 2;
  const natsNodes = options.natsNodes ?? 3;
  const h = await setup({ postgres: true, ...(natsNodes === 3 ? { natsCluster: 3 } : {}) });
  const turnSecret = randomBytes(24).toString('hex');
  const jwtSecret = randomBytes(32).toString('hex');
  const replicas: Replica[] = [];
  let coturn: CoturnServer | undefined;
  const stopAll = async () => {
    await Promise.all(replicas.filter((r) => r.service === 'gateway').map((r) => r.kill('SIGTERM')));
    await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
    await coturn?.stop();
    await h.cleanup();
  };
  try {
    coturn = await startCoturn({ secret: turnSecret, config: 'local', relayPorts: 200 });
    const common = { NATS_URL: h.nats.url, JETSTREAM_REPLICAS: String(natsNodes) };
    const database = { DATABASE_URL: h.postgres?.url ?? '' };
    const envOf: Record<(typeof services)[number], Record<string, string>> = {
      meeting: { ...database },
      // One secret for both replicas, as in the chart: a session resumes on either.
      participant: { ...database, RESUME_TOKEN_SECRET: randomBytes(32).toString('hex') },
      signaling: {},
      turn: { TURN_SECRET: turnSecret, TURN_URLS: coturn.turnUrls.join(',') },
    };
    for (const service of services) Object.assign(envOf[service], options.serviceEnv?.[service]);
    const make = async (service: string, index: number, env: Record<string, string>): Promise<Replica> => {
      const port = await freePort();
      const isGateway = service === 'gateway';
      const metricsPort = isGateway ? await freePort() : port;
      const fullEnv = isGateway
        ? {
            ...common,
            PORT: String(port),
            HOST: '127.0.0.1',
            HEALTH_PORT: String(metricsPort),
            GATEWAY_ID: `gw-drill-${index}`,
            JWT_SECRET: jwtSecret,
            JWT_ISSUER: issuer,
            // One load generator is many clients here: the shared per-client REST limit would throttle it.
            REST_RATE_PER_MINUTE: '1000000',
            ...options.gatewayEnv,
          }
        : { ...common, ...env, HEALTH_PORT: String(port) };
      const baseUrl = `http://127.0.0.1:${port}`;
      let expectedExit = false;
      const r: Replica = {
        id: `${service}#${index}`,
        service,
        port,
        baseUrl,
        metricsUrl: `http://127.0.0.1:${metricsPort}`,
        proc: undefined as unknown as Proc,
        crashes: [],
        alive: () => r.proc.child.exitCode === null && r.proc.child.signalCode === null,
        async kill(signal) {
          expectedExit = true;
          await r.proc.stop(signal);
        },
        async start() {
          expectedExit = false;
          const p = startProcess(service, `services/${service}/src/main.ts`, fullEnv);
          r.proc = p;
          p.child.once('exit', (code, sig) => {
            if (!expectedExit) r.crashes.push({ at: Date.now(), code, signal: sig, output: p.output() });
          });
          // Generous: on the shared 2-core machine a tsx start waits minutes for CPU at times.
          await waitReady(`${baseUrl}/readyz`, p, 300_000);
        },
      };
      replicas.push(r);
      await r.start();
      return r;
    };
    // All at once: on a loaded 2-core machine each start is mostly waiting for CPU anyway.
    await Promise.all(services.flatMap((service) => Array.from({ length: n }, (_, i) => make(service, i + 1, envOf[service]))));
    await Promise.all(Array.from({ length: options.gateways ?? n }, (_, i) => make('gateway', i + 1, {})));
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
  const gateways = replicas.filter((r) => r.service === 'gateway');
  return {
    h,
    coturn,
    turnSecret,
    replicas,
    gateways,
    of: (service) => replicas.filter((r) => r.service === service),
    token: (userId, role) =>
      signDevToken({ JWT_SECRET: jwtSecret, JWT_ISSUER: issuer, JWT_AUDIENCE: 'authenticated', DEV_TOKEN_TTL_SECONDS: 7_200 }, { userId, role }),
    jwtSecret,
    issuer,
    stop: stopAll,
  };
}
