import { jetstream, type JetStreamClient, type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { type ConnectionOptions, type NatsConnection, nkeyAuthenticator } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Db } from '../db';
import type { NatsRole } from '../nats-auth';
import { type HarnessNatsUser, type NatsCluster, type NatsCredentials, type NatsServer, startNats, startNatsCluster } from './nats-server';
import { type PostgresServer, startPostgres } from './postgres';

export {
  type NatsCluster,
  type NatsClusterNode,
  type HarnessNatsUser,
  harnessAuthorization,
  type NatsCredentials,
  type NatsServer,
  type NatsServerOptions,
  startNats,
  startNatsCluster,
} from './nats-server';
export { startCoturn, type CoturnOptions, type CoturnServer } from './coturn';
export { janusConfigFiles, startJanus, type JanusOptions, type JanusServer } from './janus';
export { startPostgres, type PostgresServer, repoRoot } from './postgres';
export { metricValue, type Sample, samples } from './metrics';
export { seededRandom } from './random';
export { startTcpProxy, type TcpProxy } from './tcp-proxy';
export { freePort, giveToPostgresUser, isRoot, requireBinary, runAsPostgresUser, spawnServer, stopProcess, tcpOpen, waitFor } from './process';

export interface Harness {
  nats: NatsServer;
  /** With `setup({ natsCluster: n })`: the cluster's nodes (kill one for a drill); `nats` then stands for the whole cluster. */
  cluster: NatsCluster | undefined;
  /** The test itself: the full-access driver user (anonymous only with `auth: false`). */
  nc: NatsConnection;
  /**
   * A service's NATS settings for its config or a child's environment
   * (`{ ...h.natsEnv('meeting'), LOG_LEVEL: … }`): the URL, the role's seed and inbox prefix.
   */
  natsEnv(role: NatsRole | 'outsider'): Record<string, string>;
  /** A connection as that role (or as the outsider, who may do nothing), held to its permissions; closed by cleanup(). */
  connectAs(role: NatsRole | 'outsider', options?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  postgres: PostgresServer | undefined;
  /** A service-role-capable pool on the test database (superuser login). */
  db: Db | undefined;
  cleanup(): Promise<void>;
}

/**
 * Starts the real servers an integration test needs and returns connected clients, the
 * way nats.js's test helpers do. NATS (one server or a cluster) enforces the production
 * permission matrix: each service connects as its role (`natsEnv`), so a permission the
 * matrix lacks fails the test that needs it. Call `cleanup()` in afterAll.
 */
export async function setup(options: { postgres?: boolean; natsCluster?: number; auth?: boolean } = {}): Promise<Harness> {
  const auth = options.auth ?? true;
  const [cluster, postgres] = await Promise.all([
    options.natsCluster ? startNatsCluster({ size: options.natsCluster, auth }) : Promise.resolve(undefined),
    options.postgres ? startPostgres() : Promise.resolve(undefined),
  ]);
  const nats = cluster ? clusterAsServer(cluster) : await startNats({ auth });
  const nc = await connect({ ...connectionOptions(nats.url, nats.credentials?.driver), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const db = postgres ? new Db({ url: postgres.url, max: 5 }) : undefined;
  const extra: NatsConnection[] = [];
  return {
    nats,
    cluster,
    nc,
    natsEnv: (role) => ({ ...(credentialsOf(nats, role) ?? { NATS_URL: nats.url }) }),
    async connectAs(role, more = {}) {
      const c = await connect({ ...connectionOptions(nats.url, credentialsOf(nats, role)), name: role, ...more });
      extra.push(c);
      return c;
    },
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    postgres,
    db,
    async cleanup() {
      await Promise.all([nc, ...extra].map((c) => c.close().catch(() => {})));
      await db?.close().catch(() => {});
      await Promise.all([nats.stop(), postgres?.stop()]);
    },
  };
}

function credentialsOf(nats: NatsServer, user: HarnessNatsUser): NatsCredentials | undefined {
  const creds = nats.credentials?.[user];
  if (nats.credentials && !creds) throw new Error(`setup: no NATS user ${user}`);
  return creds;
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
    ...(cluster.credentials ? { credentials: cluster.credentials } : {}),
    async restart() {
      for (const n of cluster.nodes) await n.kill();
      await Promise.all(cluster.nodes.map((n) => n.start()));
      await cluster.jetStreamReady();
    },
    stop: () => cluster.stop(),
  };
}
