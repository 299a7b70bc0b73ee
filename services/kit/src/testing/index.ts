import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { Db } from '../db';
import { type NatsServer, startNats } from './nats-server';
import { type PostgresServer, startPostgres } from './postgres';

export { startNats, type NatsServer } from './nats-server';
export { startCoturn, type CoturnOptions, type CoturnServer } from './coturn';
export { startPostgres, type PostgresServer, repoRoot } from './postgres';
export { freePort, giveToPostgresUser, isRoot, requireBinary, runAsPostgresUser, spawnServer, stopProcess, tcpOpen, waitFor } from './process';

export interface Harness {
  nats: NatsServer;
  nc: NatsConnection;
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
export async function setup(options: { postgres?: boolean } = {}): Promise<Harness> {
  const [nats, postgres] = await Promise.all([startNats(), options.postgres ? startPostgres() : Promise.resolve(undefined)]);
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const db = postgres ? new Db({ url: postgres.url, max: 5 }) : undefined;
  return {
    nats,
    nc,
    js: nc.jetstream(),
    jsm: await nc.jetstreamManager(),
    postgres,
    db,
    async cleanup() {
      await nc.close().catch(() => {});
      await db?.close().catch(() => {});
      await Promise.all([nats.stop(), postgres?.stop()]);
    },
  };
}
