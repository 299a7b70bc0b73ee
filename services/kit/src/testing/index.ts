import { type ConnectionOptions, connect, type JetStreamClient, type JetStreamManager, type NatsConnection, nkeyAuthenticator } from 'nats';
import { Db } from '../db';
import type { NatsRole } from '../nats-auth';
import { type NatsCluster, type NatsCredentials, type NatsServer, startNats, startNatsCluster } from './nats-server';
import { type PostgresServer, startPostgres } from './postgres';

export {
  type NatsCluster,
  type NatsClusterNode,
  type NatsCredentials,
  type NatsServer,
  type NatsServerOptions,
  startNats,
  startNatsCluster,
} from './nats-server';
export { startCoturn, type CoturnOptions, type CoturnServer } from './coturn';
export { janusConfigFiles, startJanus, type JanusOptions, type JanusServer } from './janus';
export { startPostgres, type PostgresServer, repoRoot } from './postgres';
export { freePort, giveToPostgresUser, isRoot, requireBinary, runAsPostgresUser, spawnServer, stopProcess, tcpOpen, waitFor } from './process';

export interface Harness {
  nats: NatsServer;
  /** With `setup({ natsCluster: n })`: the cluster's nodes (kill one for a drill); `nats` then stands for the whole cluster. */
  cluster: NatsCluster | undefined;
  /** The test itself: anonymous, or with `auth` the full-access driver user. */
  nc: NatsConnection;
  /**
   * A service's NATS settings for its config (`{ ...h.natsEnv('meeting'), LOG_LEVEL: … }`):
   * with `auth` the role's seed and inbox prefix, otherwise just the URL.
   */
  natsEnv(role: NatsRole): Record<string, string>;
  /** A connection as that role, held to its permissions; closed by cleanup(). */
  connectAs(role: NatsRole, options?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  postgres: PostgresServer | undefined;
  /** A service-role-capable pool on the test database (superuser login). */
  db: Db | undefined;
  cleanup(): Promise<void>;
}

/**
 * Starts the real servers an integration test needs and returns connected clients, the
 * way nats.js's test helpers do. Call `cleanup()` in afterAll.
 */
export async function setup(options: { postgres?: boolean; auth?: boolean; natsCluster?: number } = {}): Promise<Harness> {
  if (options.natsCluster && options.auth)
    throw new Error('setup: a NATS cluster runs without authorization (natsCluster and auth together are not supported)');
  const [cluster, postgres] = await Promise.all([
    options.natsCluster ? startNatsCluster({ size: options.natsCluster }) : Promise.resolve(undefined),
    options.postgres ? startPostgres() : Promise.resolve(undefined),
  ]);
  const nats = cluster ? clusterAsServer(cluster) : await startNats({ auth: options.auth ?? false });
  const nc = await connect({ ...connectionOptions(nats.url, nats.credentials?.driver), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const db = postgres ? new Db({ url: postgres.url, max: 5 }) : undefined;
  const extra: NatsConnection[] = [];
  return {
    nats,
    cluster,
    nc,
    natsEnv: (role) => ({ ...(nats.credentials?.[role] ?? { NATS_URL: nats.url }) }),
    async connectAs(role, more = {}) {
      const c = await connect({ ...connectionOptions(nats.url, nats.credentials?.[role]), name: role, ...more });
      extra.push(c);
      return c;
    },
    js: nc.jetstream(),
    jsm: await nc.jetstreamManager(),
    postgres,
    db,
    async cleanup() {
      await Promise.all([nc, ...extra].map((c) => c.close().catch(() => {})));
      await db?.close().catch(() => {});
      await Promise.all([nats.stop(), postgres?.stop()]);
    },
  };
}

function connectionOptions(url: string, creds: NatsCredentials | undefined): ConnectionOptions {
  if (!creds) return { servers: url.split(',') };
  return { servers: url.split(','), authenticator: nkeyAuthenticator(new TextEncoder().encode(creds.NATS_NKEY_SEED)), inboxPrefix: creds.NATS_INBOX_PREFIX };
}

/** The cluster seen as one server: its URLs, the first node's monitoring, all nodes restarted together. */
function clusterAsServer(cluster: NatsCluster): NatsServer {
  const first = cluster.nodes[0]!;
  return {
    url: cluster.url,
    port: first.port,
    monitorUrl: first.monitorUrl,
    async restart() {
      for (const n of cluster.nodes) await n.kill();
      await Promise.all(cluster.nodes.map((n) => n.start()));
      await cluster.jetStreamReady();
    },
    stop: () => cluster.stop(),
  };
}
