import { randomBytes } from 'node:crypto';
import { signDevToken } from '@lessoncall/gateway';
import { freePort, type Harness, setup } from '@lessoncall/kit/testing';
import { type BenchMeeting, insertOpenMeetings, newMeetings } from './meetings';
import { type Proc, startProcess, waitReady } from './processes';

export type { BenchMeeting };

export interface Stack {
  h: Harness;
  gateways: Array<Proc & { port: number; metricsPort: number; wsUrl: string }>;
  signaling: Proc[];
  backends: Proc[];
  /** Meetings open now, inserted in bulk (as the booking consumer would have created them). */
  meetings(n: number): Promise<BenchMeeting[]>;
  token(userId: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  gateways: number;
  signaling: number;
  gatewayEnv?: Record<string, string>;
  /**
   * A directory for V8 CPU profiles: every process of the stack writes its own to <dir>/<name>
   * on exit (`--cpu-prof`), for flame graphs. Benchmarks pass CPU_PROF.
   */
  cpuProfileDir?: string;
  /**
   * 'real' (default): Postgres and the meeting and participant processes. 'none': neither, and
   * meetings() only makes up ids — for a benchmark that answers svc.participant.* itself.
   */
  backends?: 'real' | 'none';
  /** Also run the turn service, so that every join hands out TURN credentials as in production (needs backends 'real'). */
  turn?: boolean;
}

const issuer = 'http://127.0.0.1/auth/v1';

/**
 * The real-time path as in production, every service its own process started from its main.ts:
 * harness NATS + Postgres, the meeting and participant services, `signaling` signaling replicas
 * and `gateways` gateway replicas. Loopback only.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const real = (options.backends ?? 'real') === 'real';
  const h = await setup({ postgres: real });
  const db = h.db;
  const secret = randomBytes(32).toString('hex');
  const procs: Proc[] = [];
  let started: Awaited<ReturnType<typeof startAll>>;
  try {
    started = await startAll();
  } catch (err) {
    // Nothing may outlive a failed start: stop what did come up.
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await h.cleanup();
    throw err;
  }
  const { gateways, signaling, backends } = started;

  async function startAll() {
    const backend = async (name: 'meeting' | 'participant' | 'turn' | 'signaling', env: Record<string, string>) => {
      const port = await freePort();
      const p = startProcess(
        name,
        `services/${name}/src/main.ts`,
        { ...h.natsEnv(name), ...env, HEALTH_PORT: String(port) },
        { cpuProfileDir: options.cpuProfileDir },
      );
      procs.push(p);
      await waitReady(`http://127.0.0.1:${port}/readyz`, p);
      return p;
    };
    const database = { DATABASE_URL: h.postgres?.url ?? '' };
    const backends = real
      ? await Promise.all([
          backend('meeting', database),
          backend('participant', { ...database, RESUME_TOKEN_SECRET: randomBytes(32).toString('hex') }),
          ...(options.turn ? [backend('turn', { TURN_SECRET: randomBytes(16).toString('hex'), TURN_URLS: 'turn:127.0.0.1:3478?transport=udp' })] : []),
        ])
      : [];
    const signaling = await Promise.all(Array.from({ length: options.signaling }, () => backend('signaling', {})));
    const gateways = await Promise.all(
      Array.from({ length: options.gateways }, async (_, i) => {
        const port = await freePort();
        const metricsPort = await freePort();
        const p = startProcess(
          'gateway',
          'services/gateway/src/main.ts',
          {
            ...h.natsEnv('gateway'),
            PORT: String(port),
            HOST: '127.0.0.1',
            GATEWAY_ID: `gw-bench-${i + 1}`,
            JWT_SECRET: secret,
            JWT_ISSUER: issuer,
            HEALTH_PORT: String(metricsPort),
            // Every bench socket comes from 127.0.0.1: the per-address limits would be the bench.
            WS_UPGRADES_PER_MINUTE: '100000000',
            WS_UPGRADE_BURST: '100000000',
            WS_MAX_SOCKETS_PER_CLIENT: '100000000',
            ...options.gatewayEnv,
          },
          { cpuProfileDir: options.cpuProfileDir },
        );
        procs.push(p);
        await waitReady(`http://127.0.0.1:${port}/readyz`, p);
        return Object.assign(p, { port, metricsPort, wsUrl: `ws://127.0.0.1:${port}/api/video/ws` });
      }),
    );
    return { gateways, signaling, backends };
  }

  return {
    h,
    gateways,
    signaling,
    backends,
    meetings: (n) => (db ? insertOpenMeetings(db, n, { hours: 2 }) : Promise.resolve(newMeetings(n))),
    token: (userId) => signDevToken({ JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: 'authenticated', DEV_TOKEN_TTL_SECONDS: 7_200 }, { userId }),
    async stop() {
      await Promise.all([...gateways].map((g) => g.stop()));
      await Promise.all([...signaling, ...backends].map((p) => p.stop()));
      await h.cleanup();
    },
  };
}
