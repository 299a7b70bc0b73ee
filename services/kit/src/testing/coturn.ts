import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './postgres';
import { freePort, requireBinary, spawnServer, stopProcess, waitFor } from './process';

export interface CoturnOptions {
  /**
   * The TURN REST shared secret (the turn service's TURN_SECRET). Several: coturn accepts a
   * credential signed with any of them, which is how a secret rotation keeps the old one valid.
   */
  secret: string | readonly string[];
  /** Which of the repo's configs to run: deploy/coturn/turnserver.<config>.conf. */
  config: 'local' | 'prod';
  /** Overrides the file's realm. */
  realm?: string;
  /** Size of the relay port range (default 40). */
  relayPorts?: number;
}

export interface CoturnServer {
  host: string;
  /** UDP and TCP listening port. */
  port: number;
  relayPorts: { min: number; max: number };
  configFile: string;
  /** What the turn service's TURN_URLS / STUN_URLS would be for this server. */
  turnUrls: string[];
  stunUrls: string[];
  /** The server's log so far (it logs to stdout). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * A real coturn (`turnserver`, not as a daemon) with one of the repo's config files, on a free
 * listening port and relay range, its pid file and user db in a temp dir. The file's rules
 * (auth, denied peers, loopback) stay; only where it listens, the ports, the secret and the
 * log destination are overridden on the command line — the prod config listens on loopback
 * here, without TLS (its certificate paths exist only in the cluster).
 */
export async function startCoturn(options: CoturnOptions): Promise<CoturnServer> {
  const bin = requireBinary(['turnserver', '/usr/bin/turnserver'], 'coturn');
  const secrets = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
  if (secrets.length === 0) throw new Error('startCoturn: at least one secret is required');
  const configFile = join(repoRoot, 'deploy/coturn', `turnserver.${options.config}.conf`);
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-coturn-'));
  const host = '127.0.0.1';
  const port = await freePort();
  const size = options.relayPorts ?? 40;
  // Random so that parallel test files rarely share a range; coturn skips a port it cannot bind.
  const min = 20_000 + Math.floor(Math.random() * ((32_000 - 20_000) / size)) * size;
  const max = min + size - 1;
  const args = [
    '-c',
    configFile,
    `--listening-ip=${host}`,
    `--relay-ip=${host}`,
    `--listening-port=${port}`,
    `--min-port=${min}`,
    `--max-port=${max}`,
    ...secrets.map((s) => `--static-auth-secret=${s}`),
    ...(options.realm ? [`--realm=${options.realm}`] : []),
    ...(options.config === 'prod' ? ['--no-tls', '--no-dtls'] : []),
    '--log-file=stdout',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ];
  const child = spawnServer(bin, args);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(
      'coturn',
      async () => {
        if (child.exitCode !== null) throw new Error(`turnserver exited with ${child.exitCode}`);
        return stunBinding(host, port, 300);
      },
      10_000,
      child.output,
    );
  } catch (err) {
    await stopProcess(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host,
    port,
    relayPorts: { min, max },
    configFile,
    turnUrls: [`turn:${host}:${port}?transport=udp`, `turn:${host}:${port}?transport=tcp`],
    stunUrls: [`stun:${host}:${port}`],
    output: child.output,
    async stop() {
      await stopProcess(child);
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Sends a STUN Binding request over UDP; true once a Binding success response with our transaction id comes back. */
function stunBinding(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const txid = randomBytes(12);
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request
    request.writeUInt16BE(0, 2); // no attributes
    request.writeUInt32BE(0x2112a442, 4); // magic cookie
    txid.copy(request, 8);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('message', (msg) => {
      if (msg.length >= 20 && msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(txid)) done(true);
    });
    socket.send(request, port, host);
  });
}
