import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Finds a server binary or fails loudly with how to install it: a missing server must
 * turn CI red, never skip a test.
 */
export function requireBinary(candidates: string[], aptPackage: string): string {
  for (const c of candidates) {
    if (c.includes('/') ? existsSync(c) : whichSync(c)) return c.includes('/') ? c : (whichSync(c) as string);
  }
  throw new Error(`${candidates[0]} not found: install it with \`apt-get install -y ${aptPackage}\` (npm test does this on Debian when run as root)`);
}

function whichSync(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Starts a long-running server process, collecting its output for error messages. */
export function spawnServer(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): ChildProcess & { output: () => string } {
  const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return Object.assign(child, { output: () => out });
}

export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 15_000, output?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not come up in ${timeoutMs} ms${output ? `:\n${output()}` : ''}`);
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Whether something accepts TCP connections on a loopback port. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** initdb and pg_ctl refuse root: run them as the unprivileged `postgres` user then. */
export function runAsPostgresUser(cmd: string, args: string[]): string {
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  try {
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** When we are root, give a directory to the `postgres` user that will run the cluster in it. */
export function giveToPostgresUser(dir: string): void {
  if (!isRoot()) return;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
}
