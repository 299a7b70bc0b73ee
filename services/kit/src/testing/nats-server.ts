import { connect as tcpConnect } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { inboxPrefix, type NatsRole, natsRoles, renderNatsAuthorization } from '../nats-auth';
import { freePort, requireBinary, spawnServer, stopProcess, waitFor } from './process';

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
  /** Present when started with `auth` (the default): each role's credentials, the test driver's and the outsider's. */
  credentials?: Record<HarnessNatsUser, NatsCredentials>;
  /** Kill -9 and start again on the same port and store: a NATS restart. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /**
   * Enforce the production permission matrix (nats-auth.ts): every role gets its own nkey,
   * anonymous clients are refused, a `driver` user with full access stands in for the test
   * itself (creating streams, observing every subject) and an `outsider` user may do nothing.
   * Defaults to true; only benchmarks that compare against bare NATS turn it off.
   */
  auth?: boolean;
  /** Clients must connect over TLS with this certificate (PEM files), as in the chart. */
  tls?: { certFile: string; keyFile: string };
}

/** Who the harness lets in besides the services: the test itself, and a stranger with no rights. */
export type HarnessNatsUser = NatsRole | 'driver' | 'outsider';

function newUser(url: string, prefix: string): { seed: string; publicKey: string; creds: NatsCredentials } {
  const kp = createUser();
  const seed = new TextDecoder().decode(kp.getSeed());
  return { seed, publicKey: kp.getPublicKey(), creds: { NATS_URL: url, NATS_NKEY_SEED: seed, NATS_INBOX_PREFIX: prefix } };
}

/**
 * The `authorization` block every role's fresh nkey, the driver's and the outsider's, and what
 * each needs to connect to `url` (one server, or a cluster's comma-separated URLs).
 */
export function harnessAuthorization(url: string): { conf: string; credentials: Record<HarnessNatsUser, NatsCredentials> } {
  const users = natsRoles.map((role) => ({ role, ...newUser(url, inboxPrefix(role)) }));
  const driver = newUser(url, '_INBOX.driver');
  const outsider = newUser(url, '_INBOX.outsider');
  const conf = renderNatsAuthorization(
    users.map(({ role, publicKey }) => ({ role, nkey: publicKey })),
    [
      `# the test driver\n    { nkey: ${JSON.stringify(driver.publicKey)}, permissions: { publish: { allow: [">"] }, subscribe: { allow: [">"] } } }`,
      // Authenticated but allowed nothing: what a stolen connection to the bus without a role gets.
      `# an outsider\n    { nkey: ${JSON.stringify(outsider.publicKey)}, permissions: { publish: { deny: [">"] }, subscribe: { deny: [">"] } } }`,
    ],
  );
  const credentials = Object.fromEntries([
    ...users.map((u) => [u.role, u.creds] as const),
    ['driver', driver.creds] as const,
    ['outsider', outsider.creds] as const,
  ]) as Record<HarnessNatsUser, NatsCredentials>;
  return { conf, credentials };
}

/** The server_id in the INFO line a NATS server greets a client with, or undefined if nobody (or something else) answers. */
function greetingServerId(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    let text = '';
    const done = (id: string | undefined) => {
      socket.destroy();
      resolve(id);
    };
    socket.setTimeout(1_000, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end < 0) return;
      const info = /^INFO\s+(\{.*\})\s*$/.exec(text.slice(0, end));
      try {
        done(info ? (JSON.parse(info[1]!) as { server_id?: string }).server_id : undefined);
      } catch {
        done(undefined);
      }
    });
  });
}

/**
 * Resolves once this server greets a client on our port: its monitor answers with our client
 * port and its server_id, and a connection to the client port gets an INFO with that same id.
 * Not merely once something accepts connections on that port (freePort() says a port was free a
 * moment ago, and another process may bind it first), and not once the monitor alone answers:
 * nats-server serves /varz before its client listener accepts (JetStream starts in between, for
 * seconds on a busy machine), and a client connecting then was refused. Rejects at once if the
 * server exits while starting (nats-server exits on "address already in use").
 */
async function natsUp(child: ReturnType<typeof spawnServer>, name: string, port: number, monitorPort: number): Promise<void> {
  let onExit: (() => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = () => reject(new Error(`${name} exited while starting:\n${child.output()}`));
    if (child.exitCode !== null || child.signalCode !== null) onExit();
    else child.once('exit', onExit);
  });
  exited.catch(() => {});
  try {
    await Promise.race([
      waitFor(
        name,
        async () => {
          const varz = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as { port?: number; server_id?: string };
          return varz.port === port && varz.server_id !== undefined && (await greetingServerId(port)) === varz.server_id;
        },
        10_000,
        child.output,
      ),
      exited,
    ]);
  } finally {
    if (onExit) child.off('exit', onExit);
  }
}

/** Runs a server start again on new ports when one of its ports was taken meanwhile (at most 3 tries). */
async function onFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String((err as Error).message))) throw err;
    }
  }
}

/** A real nats-server with JetStream on a free port, its store in a temp dir. */
export function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  return onFreshPorts(() => startNatsOnce(options));
}

async function startNatsOnce(options: NatsServerOptions): Promise<NatsServer> {
  const bin = requireBinary(['nats-server'], 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-nats-'));
  const port = await freePort();
  const monitorPort = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', join(dir, 'js')];
  const auth = (options.auth ?? true) ? harnessAuthorization(url) : undefined;
  // Written again by restart(): a test may stop() the server (its dir gone) and start it again.
  const writeConfig = async () => {
    await mkdir(dir, { recursive: true });
    if (auth) await writeFile(join(dir, 'nats.conf'), auth.conf);
  };
  await writeConfig();
  if (auth) args.push('-c', join(dir, 'nats.conf'));
  if (options.tls) args.push('--tls', '--tlscert', options.tls.certFile, '--tlskey', options.tls.keyFile);
  const credentials = auth?.credentials;
  let child = spawnServer(bin, args);
  const up = () => natsUp(child, 'nats-server', port, monitorPort);
  try {
    await up();
  } catch (err) {
    await stopProcess(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    ...(credentials ? { credentials } : {}),
    async restart() {
      await stopProcess(child, 'SIGKILL');
      await writeConfig();
      child = spawnServer(bin, args);
      await up();
    },
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface NatsClusterNode {
  name: string;
  port: number;
  monitorUrl: string;
  /** Kill -9: the node is gone (its store stays for `start`). */
  kill(): Promise<void>;
  /** Starts a killed node again on the same ports and store. */
  start(): Promise<void>;
}

export interface NatsCluster {
  /** Every node's client URL, comma-separated (what NATS_URL takes). */
  url: string;
  nodes: NatsClusterNode[];
  /** Resolves once the JetStream meta group has a leader (after a start or a node lost). */
  jetStreamReady(timeoutMs?: number): Promise<void>;
  /** With `auth` (the default): as for one server, valid on every node. */
  credentials?: Record<HarnessNatsUser, NatsCredentials>;
  stop(): Promise<void>;
}

/**
 * A real nats-server cluster with JetStream (each node its own process, ports and store) on
 * loopback: what the chart runs, for drills that lose a node. Every node enforces the same
 * permission matrix (`auth`, default true); routes between the nodes are loopback only.
 */
export function startNatsCluster(options: { size?: number; auth?: boolean } = {}): Promise<NatsCluster> {
  // The drills lost a run to a route port taken between freePort and bind.
  return onFreshPorts(() => startNatsClusterOnce(options));
}

async function startNatsClusterOnce(options: { size?: number; auth?: boolean }): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const bin = requireBinary(['nats-server'], 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-nats-cluster-'));
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort(), monitor: await freePort() })),
  );
  const children: (ReturnType<typeof spawnServer> | undefined)[] = [];
  const url = ports.map((p) => `nats://127.0.0.1:${p.client}`).join(',');
  const auth = (options.auth ?? true) ? harnessAuthorization(url) : undefined;
  const configOf = (i: number) => {
    const p = ports[i]!;
    const routes = ports.filter((_, j) => j !== i).map((q) => `"nats-route://127.0.0.1:${q.cluster}"`);
    return [
      `server_name: "n${i}"`,
      `listen: "127.0.0.1:${p.client}"`,
      `http: "127.0.0.1:${p.monitor}"`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, `n${i}`))} }`,
      `cluster { name: "lessoncall-test", listen: "127.0.0.1:${p.cluster}", routes: [${routes.join(', ')}] }`,
      ...(auth ? [auth.conf] : []),
    ].join('\n');
  };
  for (let i = 0; i < size; i++) await writeFile(join(dir, `n${i}.conf`), configOf(i));
  const startNode = async (i: number) => {
    const child = spawnServer(bin, ['-c', join(dir, `n${i}.conf`)]);
    children[i] = child;
    await natsUp(child, `nats-server n${i}`, ports[i]!.client, ports[i]!.monitor);
  };
  try {
    await Promise.all(ports.map((_, i) => startNode(i)));
  } catch (err) {
    await Promise.all(children.map((c) => (c ? stopProcess(c, 'SIGKILL') : undefined)));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const monitorUrl = (i: number) => `http://127.0.0.1:${ports[i]!.monitor}`;
  const cluster: NatsCluster = {
    url,
    ...(auth ? { credentials: auth.credentials } : {}),
    nodes: ports.map((p, i) => ({
      name: `n${i}`,
      port: p.client,
      monitorUrl: monitorUrl(i),
      async kill() {
        const child = children[i];
        children[i] = undefined;
        if (child) await stopProcess(child, 'SIGKILL');
      },
      start: () => startNode(i),
    })),
    async jetStreamReady(timeoutMs = 20_000) {
      await waitFor(
        'a JetStream meta leader',
        async () => {
          for (let i = 0; i < size; i++) {
            if (!children[i]) continue;
            try {
              const jsz = (await (await fetch(`${monitorUrl(i)}/jsz`)).json()) as { meta_cluster?: { leader?: string } };
              if (jsz.meta_cluster?.leader) return true;
            } catch {
              // not answering yet
            }
          }
          return false;
        },
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(children.map((c) => (c ? stopProcess(c) : undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.jetStreamReady();
  return cluster;
}
