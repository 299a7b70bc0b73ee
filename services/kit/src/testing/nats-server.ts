import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { inboxPrefix, type NatsRole, natsRoles, renderNatsAuthorization } from '../nats-auth';
import { freePort, requireBinary, spawnServer, stopProcess, tcpOpen, waitFor } from './process';

/** What a process needs in its environment to connect as one role. */
export interface NatsCredentials {
  NATS_URL: string;
  NATS_NKEY_SEED: string;
  NATS_INBOX_PREFIX: string;
}

export interface NatsServer {
  url: string;
  port: number;
  /** The HTTP monitoring endpoint (`/varz`, `/jsz`, `/connz`): message counts for benchmarks, JetStream state for drills. */
  monitorUrl: string;
  /** Present when started with `auth`: each role's credentials, and the test driver's. */
  credentials?: Record<NatsRole | 'driver', NatsCredentials>;
  /** Kill -9 and start again on the same port and store: a NATS restart. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /**
   * Enforce the production permission matrix (nats-auth.ts): every role gets its own nkey,
   * anonymous clients are refused, and a `driver` user with full access stands in for the
   * test itself (creating streams, observing every subject).
   */
  auth?: boolean;
}

function newUser(url: string, prefix: string): { seed: string; publicKey: string; creds: NatsCredentials } {
  const kp = nkeys.createUser();
  const seed = new TextDecoder().decode(kp.getSeed());
  return { seed, publicKey: kp.getPublicKey(), creds: { NATS_URL: url, NATS_NKEY_SEED: seed, NATS_INBOX_PREFIX: prefix } };
}

/** A real nats-server with JetStream on a free port, its store in a temp dir. */
export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = requireBinary(['nats-server'], 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-nats-'));
  const port = await freePort();
  const monitorPort = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', join(dir, 'js')];
  let credentials: NatsServer['credentials'];
  if (options.auth) {
    const users = natsRoles.map((role) => ({ role, ...newUser(url, inboxPrefix(role)) }));
    const driver = newUser(url, '_INBOX.driver');
    const conf = renderNatsAuthorization(
      users.map(({ role, publicKey }) => ({ role, nkey: publicKey })),
      [`# the test driver\n    { nkey: ${JSON.stringify(driver.publicKey)}, permissions: { publish: { allow: [">"] }, subscribe: { allow: [">"] } } }`],
    );
    await writeFile(join(dir, 'nats.conf'), conf);
    args.push('-c', join(dir, 'nats.conf'));
    credentials = Object.fromEntries([...users.map((u) => [u.role, u.creds] as const), ['driver', driver.creds] as const]) as NatsServer['credentials'];
  }
  let child = spawnServer(bin, args);
  const up = () => waitFor('nats-server', () => tcpOpen(port), 10_000, child.output);
  await up();
  return {
    url,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    ...(credentials ? { credentials } : {}),
    async restart() {
      await stopProcess(child, 'SIGKILL');
      child = spawnServer(bin, args);
      await up();
    },
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
