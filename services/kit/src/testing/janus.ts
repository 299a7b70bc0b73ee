import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, spawnServer, stopProcess, tcpOpen, waitFor } from './process';

export interface JanusOptions {
  /** The Admin API's admin_secret (the media service's JANUS_ADMIN_SECRET); random when omitted. */
  adminSecret?: string;
  /** The core's token_auth_secret: clients need an HMAC-signed token to use the Janus API at all; random when omitted. */
  tokenSecret?: string;
  /** The VideoRoom plugin's admin_key: only who has it creates rooms; random when omitted. */
  roomAdminKey?: string;
  /** Size of the RTP port range (default 200). */
  rtpPorts?: number;
  /** Where rooms created with `record: true` write their .mjr files (default: `<dir>/recordings`). */
  recordingsDir?: string;
  /** A name for the logs and the Admin API's `info` (default `janus-<port>`). */
  name?: string;
  /** Keep the directory (config, recordings) on stop: the local stack's node. */
  dir?: string;
}

export interface JanusServer {
  name: string;
  /** The janus process (its CPU time, for the benchmark). */
  pid: number;
  /** Janus API over WebSocket (subprotocol `janus-protocol`), what clients use. */
  wsUrl: string;
  /** Admin API over WebSocket (subprotocol `janus-admin-protocol`). */
  adminUrl: string;
  adminSecret: string;
  tokenSecret: string;
  roomAdminKey: string;
  recordingsDir: string;
  rtpPorts: { min: number; max: number };
  /** What the media service's JANUS_NODES entry is for this node. */
  nodeSpec: string;
  output(): string;
  /** SIGKILL: a node that dies (for failover tests). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Where Debian's janus package keeps its plugins and transports. */
function janusLibDir(): string {
  for (const d of ['/usr/lib/x86_64-linux-gnu/janus', '/usr/lib/aarch64-linux-gnu/janus', '/usr/lib/janus']) {
    if (existsSync(join(d, 'plugins/libjanus_videoroom.so'))) return d;
  }
  throw new Error('Janus plugins not found (libjanus_videoroom.so): install them with `apt-get install -y janus`');
}

const otherPlugins = ['audiobridge', 'duktape', 'echotest', 'lua', 'nosip', 'recordplay', 'sip', 'streaming', 'textroom', 'videocall', 'voicemail'];
const otherTransports = ['http', 'mqtt', 'nanomsg', 'pfunix', 'rabbitmq'];

/** The files of one Janus node: the core (token auth, admin secret, RTP range), VideoRoom, and the WebSocket transport (API + Admin API). */
export function janusConfigFiles(o: {
  name: string;
  libDir: string;
  configDir: string;
  wsPort: number;
  adminPort: number;
  wsIp: string;
  adminIp: string;
  adminSecret: string;
  tokenSecret: string;
  roomAdminKey: string;
  rtp: { min: number; max: number };
}): Record<string, string> {
  const q = (s: string) => JSON.stringify(s);
  return {
    'janus.jcfg': `general: {
\tconfigs_folder = ${q(o.configDir)}
\tplugins_folder = ${q(join(o.libDir, 'plugins'))}
\ttransports_folder = ${q(join(o.libDir, 'transports'))}
\tevents_folder = ${q(join(o.libDir, 'events'))}
\tloggers_folder = ${q(join(o.libDir, 'loggers'))}
\tdebug_level = 4
\tserver_name = ${q(o.name)}
\tsession_timeout = 60
\ttoken_auth = true
\ttoken_auth_secret = ${q(o.tokenSecret)}
\tadmin_secret = ${q(o.adminSecret)}
\tprotected_folders = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/var"]
}
certificates: {
}
media: {
\trtp_port_range = "${o.rtp.min}-${o.rtp.max}"
}
nat: {
\tnice_debug = false
\tice_ignore_list = "vmnet"
}
plugins: {
\tdisable = ${q(otherPlugins.map((p) => `libjanus_${p}.so`).join(','))}
}
transports: {
\tdisable = ${q(otherTransports.map((t) => `libjanus_${t}.so`).join(','))}
}
events: {
\tbroadcast = false
}
loggers: {
\tdisable = "libjanus_jsonlog.so"
}
`,
    'janus.plugin.videoroom.jcfg': `general: {
\tadmin_key = ${q(o.roomAdminKey)}
\tlock_rtp_forward = true
\tstring_ids = true
}
`,
    'janus.transport.websockets.jcfg': `general: {
\tjson = "compact"
\tws = true
\tws_port = ${o.wsPort}
\tws_ip = ${q(o.wsIp)}
\twss = false
}
admin: {
\tadmin_ws = true
\tadmin_ws_port = ${o.adminPort}
\tadmin_ws_ip = ${q(o.adminIp)}
\tadmin_wss = false
}
`,
  };
}

/**
 * A real Janus (Debian's `janus`) with the VideoRoom plugin and the WebSocket transport only,
 * its config written into a temp dir: the Janus API and the Admin API on free loopback ports,
 * token auth (HMAC-signed tokens), an admin secret, a VideoRoom admin key, an RTP range of its own.
 */
export async function startJanus(options: JanusOptions = {}): Promise<JanusServer> {
  const bin = requireBinary(['/usr/bin/janus', 'janus'], 'janus');
  const libDir = janusLibDir();
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'lessoncall-janus-')));
  const configDir = join(dir, 'conf');
  const recordingsDir = options.recordingsDir ?? join(dir, 'recordings');
  await mkdir(configDir, { recursive: true });
  await mkdir(recordingsDir, { recursive: true });
  const [wsPort, adminPort] = [await freePort(), await freePort()];
  const size = options.rtpPorts ?? 200;
  const min = 40_000 + Math.floor(Math.random() * ((60_000 - 40_000) / size)) * size;
  const rtp = { min, max: min + size - 1 };
  const secret = () => randomBytes(18).toString('base64url');
  const adminSecret = options.adminSecret ?? secret();
  const tokenSecret = options.tokenSecret ?? secret();
  const roomAdminKey = options.roomAdminKey ?? secret();
  const name = options.name ?? `janus-${wsPort}`;
  const files = janusConfigFiles({
    name,
    libDir,
    configDir,
    wsPort,
    adminPort,
    wsIp: '127.0.0.1',
    adminIp: '127.0.0.1',
    adminSecret,
    tokenSecret,
    roomAdminKey,
    rtp,
  });
  for (const [file, text] of Object.entries(files)) await writeFile(join(configDir, file), text);
  const start = () => {
    const child = spawnServer(bin, ['-C', join(configDir, 'janus.jcfg'), '-F', configDir, '-o'], { cwd: dir });
    return { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
  };
  const { child, exited } = start();
  const removeDir = () => (options.dir ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  try {
    await waitFor(
      'janus',
      async () => {
        if (child.exitCode !== null) throw new Error(`janus exited with ${child.exitCode}`);
        return (await tcpOpen(wsPort)) && (await tcpOpen(adminPort)) && child.output().includes('VideoRoom');
      },
      15_000,
      child.output,
    );
  } catch (err) {
    await stopProcess(child, 'SIGKILL');
    await removeDir();
    throw err;
  }
  const wsUrl = `ws://127.0.0.1:${wsPort}`;
  const adminUrl = `ws://127.0.0.1:${adminPort}`;
  return {
    name,
    pid: child.pid ?? 0,
    wsUrl,
    adminUrl,
    adminSecret,
    tokenSecret,
    roomAdminKey,
    recordingsDir,
    rtpPorts: rtp,
    nodeSpec: `${name}|${wsUrl}|${adminUrl}`,
    output: child.output,
    async kill() {
      await stopProcess(child, 'SIGKILL');
      await exited;
    },
    async stop() {
      await stopProcess(child);
      await exited;
      await removeDir();
    },
  };
}
