/**
 * The whole of lessoncall as processes on this machine: Postgres, nats-server (JetStream),
 * coturn, every service that exists, the gateway serving the built web app. Used by
 * `npm start` (scripts/start.sh) and by the browser tests.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inboxPrefix, type NatsRole, natsPublicKey, natsRoles, newNatsSeed, renderNatsAuthorization } from '@lessoncall/kit';
import { freePort, requireBinary, spawnServer, startJanus, startPostgres, stopProcess, tcpOpen, waitFor } from '@lessoncall/kit/testing';

export const repoRoot = resolve(import.meta.dirname, '..');

export const demoUsers = {
  tutor: { userId: '11111111-1111-4111-8111-111111111111', name: 'Demo Tutor' },
  student: { userId: '22222222-2222-4222-8222-222222222222', name: 'Demo Student' },
} as const;

export interface StackOptions {
  /** Where data, logs and stack.env live (default .local). */
  dir?: string;
  /** Keep Postgres and JetStream data between runs (npm start) or not (tests). */
  persistent?: boolean;
  /** Preferred gateway port; a free one is used when it is taken. */
  gatewayPort?: number;
  /**
   * Any free port for everything instead of the usual ones (5432x, 4222, 3478, 8080), e.g. a
   * second stack beside `npm start`, or a check of the stack on a shared machine.
   */
  freePorts?: boolean;
  log?: (line: string) => void;
  /** Where service output goes: a file per process under <dir>/logs by default. */
  inheritLogs?: boolean;
}

export interface Stack {
  env: Record<string, string>;
  dir: string;
  stop(): Promise<void>;
}

const services = ['turn', 'meeting', 'participant', 'signaling', 'media', 'gateway'] as const;

const parseEnv = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

/** Secrets made once per checkout and kept in <dir>/secrets.env (git-ignored); one added later is made then. */
function localSecrets(dir: string): Record<string, string> {
  const file = join(dir, 'secrets.env');
  const make: Record<string, () => string> = {
    JWT_SECRET: () => randomBytes(32).toString('base64url'),
    TURN_SECRET: () => randomBytes(24).toString('base64url'),
    RESUME_TOKEN_SECRET: () => randomBytes(32).toString('base64url'),
    DEV_ISSUER_SECRET: () => randomBytes(32).toString('base64url'),
    JANUS_ADMIN_SECRET: () => randomBytes(24).toString('base64url'),
    JANUS_TOKEN_SECRET: () => randomBytes(24).toString('base64url'),
    JANUS_ROOM_ADMIN_KEY: () => randomBytes(24).toString('base64url'),
    RECORDINGS_SIGNING_SECRET: () => randomBytes(24).toString('base64url'),
  };
  const have = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  const secrets = Object.fromEntries(Object.entries(make).map(([k, f]) => [k, have[k] ?? f()]));
  if (Object.keys(make).some((k) => have[k] === undefined)) {
    writeFileSync(
      file,
      `${Object.entries(secrets)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
      { mode: 0o600 },
    );
  }
  return secrets;
}

/**
 * Every NATS role's nkey seed, made once per checkout and kept in <dir>/nats-keys.env
 * (git-ignored, 0600) like the other secrets; the server's config gets only the public keys.
 */
function localNatsSeeds(dir: string): Record<NatsRole, string> {
  const file = join(dir, 'nats-keys.env');
  const have = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  const key = (role: NatsRole) => `${role.toUpperCase()}_NKEY_SEED`;
  const seeds = Object.fromEntries(natsRoles.map((role) => [role, have[key(role)] || newNatsSeed()])) as Record<NatsRole, string>;
  if (natsRoles.some((role) => have[key(role)] !== seeds[role])) {
    writeFileSync(file, `${natsRoles.map((role) => `${key(role)}=${seeds[role]}`).join('\n')}\n`, { mode: 0o600 });
  }
  return seeds;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = resolve(options.dir ?? join(repoRoot, '.local'));
  const log = options.log ?? ((l: string) => console.log(l));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const portOr = async (preferred: number) => (options.freePorts || (await tcpOpen(preferred)) ? freePort() : preferred);
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };

  try {
    const secrets = localSecrets(dir);

    // Postgres: a cluster of our own under <dir>/pg, through the same harness the tests use.
    const postgres = await startPostgres({
      dir: join(dir, 'pg'),
      fresh: !options.persistent,
      durable: options.persistent === true,
      ...(options.freePorts ? {} : { port: 54329 }),
    });
    stops.push(() => postgres.stop());
    const databaseUrl = postgres.url;
    log(`Postgres on ${postgres.port} (${postgres.applied.length ? `applied ${postgres.applied.join(', ')}` : 'migrations up to date'})`);

    // NATS with JetStream, its store under <dir>/nats, and the production permission matrix:
    // each service connects with its own nkey, anonymous clients are refused.
    const natsBin = requireBinary(['nats-server'], 'nats-server');
    const natsPort = await portOr(4222);
    const natsSeeds = localNatsSeeds(dir);
    const natsConf = join(dir, 'nats.conf');
    writeFileSync(natsConf, renderNatsAuthorization(natsRoles.map((role) => ({ role, nkey: natsPublicKey(natsSeeds[role]) }))));
    const nats = spawnServer(natsBin, ['-c', natsConf, '-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(dir, 'nats')]);
    stops.push(() => stopProcess(nats));
    await waitFor('nats-server', () => tcpOpen(natsPort), 10_000, nats.output);
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    log(`NATS on ${natsPort}`);

    // coturn with the local config (loopback peers allowed: both browsers are on this machine).
    const turnBin = requireBinary(['turnserver'], 'coturn');
    const turnPort = await portOr(3478);
    const relayMin = 49_152 + Math.floor(Math.random() * 100) * 100;
    const localConf = join(repoRoot, 'deploy/coturn/turnserver.local.conf');
    const coturn = spawnServer(turnBin, [
      ...(existsSync(localConf) ? ['-c', localConf] : ['-c', '/dev/null', '--use-auth-secret', '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls']),
      '--listening-ip',
      '127.0.0.1',
      '--relay-ip',
      '127.0.0.1',
      '--listening-port',
      String(turnPort),
      '--min-port',
      String(relayMin),
      '--max-port',
      String(relayMin + 99),
      '--static-auth-secret',
      secrets.TURN_SECRET as string,
      '--realm',
      'lessoncall.local',
      '--log-file',
      'stdout',
      '--pidfile',
      join(dir, 'turnserver.pid'),
    ]);
    stops.push(() => stopProcess(coturn));
    await waitFor('coturn', () => tcpOpen(turnPort), 10_000, coturn.output);
    const turnUrls = `turn:127.0.0.1:${turnPort}?transport=udp,turn:127.0.0.1:${turnPort}?transport=tcp`;
    log(`coturn on ${turnPort} (relay ports ${relayMin}-${relayMin + 99})`);

    // One Janus node (VideoRoom + WebSocket transport) for group and recorded lessons, its
    // config and recordings under <dir>/janus.
    const janus = await startJanus({
      dir: join(dir, 'janus'),
      name: 'janus-local',
      adminSecret: secrets.JANUS_ADMIN_SECRET as string,
      tokenSecret: secrets.JANUS_TOKEN_SECRET as string,
      roomAdminKey: secrets.JANUS_ROOM_ADMIN_KEY as string,
    });
    stops.push(() => janus.stop());
    log(`Janus on ${janus.wsUrl} (admin ${janus.adminUrl}, RTP ports ${janus.rtpPorts.min}-${janus.rtpPorts.max})`);

    const gatewayPort = await portOr(options.gatewayPort ?? 8080);
    const gatewayUrl = `http://localhost:${gatewayPort}`;
    const webDist = join(repoRoot, 'web/dist');
    const jwtIssuer = `${gatewayUrl}/auth/v1`;
    const common: Record<string, string> = {
      NATS_URL: natsUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      DATABASE_URL: databaseUrl,
      PUBLIC_BASE_URL: gatewayUrl,
      TURN_SECRET: secrets.TURN_SECRET as string,
      TURN_URLS: turnUrls,
      STUN_URLS: `stun:127.0.0.1:${turnPort}`,
      RESUME_TOKEN_SECRET: secrets.RESUME_TOKEN_SECRET as string,
      JWT_SECRET: secrets.JWT_SECRET as string,
      JWT_ISSUER: jwtIssuer,
      JWT_AUDIENCE: 'authenticated',
      DEV_ISSUER_ENABLED: 'true',
      DEV_ISSUER_SECRET: secrets.DEV_ISSUER_SECRET as string,
      WEB_ORIGIN: gatewayUrl,
      PORT: String(gatewayPort),
      GATEWAY_ID: 'gw-local',
      // Every browser of the local stack is 127.0.0.1: per-address socket limits fit a classroom, not this.
      WS_UPGRADE_BURST: '1000',
      WS_MAX_SOCKETS_PER_CLIENT: '1000',
      JANUS_NODES: janus.nodeSpec,
      // The web app's CSP lets sfu meetings reach this node (and no other ws: host).
      JANUS_PUBLIC_URLS: janus.wsUrl,
      JANUS_ADMIN_SECRET: janus.adminSecret,
      JANUS_TOKEN_SECRET: janus.tokenSecret,
      JANUS_ROOM_ADMIN_KEY: janus.roomAdminKey,
      JANUS_RECORDINGS_DIR: janus.recordingsDir,
      // The media service stores recordings there and signs links; the gateway serves them to valid links.
      RECORDINGS_DIR: join(dir, 'recordings'),
      RECORDINGS_SIGNING_SECRET: secrets.RECORDINGS_SIGNING_SECRET as string,
      ...(existsSync(join(webDist, 'index.html')) ? { WEB_DIST_DIR: webDist } : {}),
    };

    let gatewayHealthPort = 0;
    for (const name of services) {
      const main = join(repoRoot, 'services', name, 'src/main.ts');
      if (!existsSync(main)) {
        log(`${name}: not built yet, skipped`);
        continue;
      }
      // The gateway's /metrics is on its own port too, never the public one.
      const healthPort = await freePort();
      if (name === 'gateway') gatewayHealthPort = healthPort;
      const out = options.inheritLogs ? 'inherit' : 'pipe';
      const child = spawn(process.execPath, ['--import', 'tsx', main], {
        cwd: join(repoRoot, 'services', name),
        env: { ...process.env, ...common, NATS_NKEY_SEED: natsSeeds[name], NATS_INBOX_PREFIX: inboxPrefix(name), HEALTH_PORT: String(healthPort) },
        stdio: ['ignore', out, out],
      });
      if (!options.inheritLogs) {
        const file = createWriteStream(join(dir, 'logs', `${name}.log`), { flags: 'a' });
        child.stdout?.pipe(file);
        child.stderr?.pipe(file);
      }
      stops.push(() => stopProcess(child, 'SIGTERM', 15_000));
      const exited = new Promise<never>((_, reject) =>
        child.once('exit', (code) => reject(new Error(`${name} exited with ${code}; see ${join(dir, 'logs', `${name}.log`)}`))),
      );
      exited.catch(() => {});
      await Promise.race([waitFor(`${name} /readyz`, async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok, 60_000), exited]);
      log(`${name} ready (health on ${healthPort})`);
    }

    const env: Record<string, string> = {
      GATEWAY_URL: gatewayUrl,
      GATEWAY_METRICS_URL: `http://127.0.0.1:${gatewayHealthPort}/metrics`,
      WEB_URL: gatewayUrl,
      NATS_URL: natsUrl,
      // The booking system's NATS credential (npm run booking, the browser tests) and the
      // operator's (npm run deadletter); the services' own seeds stay in nats-keys.env.
      BOOKING_NKEY_SEED: natsSeeds.booking,
      OPERATOR_NKEY_SEED: natsSeeds.operator,
      DATABASE_URL: databaseUrl,
      TURN_URLS: turnUrls,
      JANUS_URLS: janus.wsUrl,
      JWT_SECRET: common.JWT_SECRET as string,
      JWT_ISSUER: jwtIssuer,
      JWT_AUDIENCE: 'authenticated',
    };
    writeFileSync(
      join(dir, 'stack.env'),
      `${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
      { mode: 0o600 },
    );
    return { env, dir, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
