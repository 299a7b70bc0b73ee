import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lessoncall/kit/testing';
import { readCpuTimes } from './rounds';
import { round } from './stats';

/** Every child still running: killed if this process exits first, so that a crashed benchmark leaves nothing behind. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs a TypeScript entry point as its own process (`node --import tsx`, one process, so the pid
 * is the service's own: its RSS and CPU). `entry` is relative to the repo root. `cpuProfileDir`:
 * the process writes V8 CPU profiles to <dir>/<name> on exit (`--cpu-prof`, for flame graphs).
 */
export function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  options: { ipc?: boolean; nodeArgs?: string[]; cpuProfileDir?: string } = {},
): Proc {
  const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}/${name}`] : [];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...profile, '--import', 'tsx', join(repoRoot, entry)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  return {
    name,
    child,
    pid: child.pid ?? 0,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function waitReady(url: string, proc?: Proc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited:\n${proc.output()}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready in ${timeoutMs} ms${proc ? `:\n${proc.output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resident set size of a process, from /proc/<pid>/status. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The pid of the harness's nats-server on `port` (read from /proc, for its CPU figures). */
export function natsPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('nats-server') && cmd.includes(String(port))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  // A cluster node takes its ports from a config file: find it by the socket listening on the port.
  return pidListeningOn(port);
}

/** The process holding the TCP socket that listens on 127.0.0.1/0.0.0.0:`port` (from /proc/net/tcp and each process's fds). */
export function pidListeningOn(port: number): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f[1]?.endsWith(`:${hex}`) && f[3] === '0A' && f[9]) inodes.add(`socket:[${f[9]}]`);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        if (inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

/** The open-files limit of this process (soft, hard): every socket is a file descriptor. */
export function fileLimit(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '')
    .split(/\s{2,}/)
    .slice(1, 3)
    .map(Number);
  return { soft: soft ?? 0, hard: hard ?? 0 };
}

/** Waits until something accepts TCP connections on the port. */
export async function waitListening(port: number, proc?: Proc, timeoutMs = 30_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited:\n${proc.output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds of the harness Postgres on `port`: the postmaster and its backends (a backend that exited takes its share with it). */
export function postgresCpuSeconds(port: number): number {
  const procs: { pid: number; ppid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.push({ pid: Number(entry), ppid, cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  const master = procs.find((p) => p.cmd.includes('postgres') && p.cmd.split('\0').includes(String(port)))?.pid;
  if (master === undefined) return 0;
  return procs.filter((p) => p.pid === master || p.ppid === master).reduce((sum, p) => sum + cpuSeconds(p.pid), 0);
}

/** A server process whose CPU a benchmark reports: by pid, or by a function for a group (Postgres and its backends). */
export interface Measured {
  name: string;
  pid?: number;
  cpuSeconds?: () => number;
}

const machineBusySeconds = () => {
  const t = readCpuTimes();
  return (t.total - t.idle) / 100;
};

/**
 * CPU used from now until the returned function is called, in cores: by each server process, by
 * this load generator, and by everything else on the machine (other work on a shared host —
 * the noise to read the figures by).
 */
export function cpuMeter(procs: readonly Measured[]) {
  const of = (p: Measured) => (p.cpuSeconds ? p.cpuSeconds() : cpuSeconds(p.pid ?? 0));
  const key = (p: Measured) => (p.pid ? `${p.name}#${p.pid}` : p.name);
  const at = () => ({ t: performance.now(), machine: machineBusySeconds(), perProc: procs.map(of), generator: process.cpuUsage() });
  const start = at();
  return () => {
    const end = at();
    const seconds = (end.t - start.t) / 1000;
    const perProc = end.perProc.map((c, i) => c - (start.perProc[i] ?? 0));
    const servers = perProc.reduce((a, b) => a + b, 0);
    const g = process.cpuUsage(start.generator);
    const generator = (g.user + g.system) / 1e6;
    const other = Math.max(0, end.machine - start.machine - servers - generator);
    return {
      seconds: round(seconds),
      serverCores: round(servers / seconds),
      generatorCores: round(generator / seconds),
      otherCores: round(other / seconds),
      perProcess: Object.fromEntries(procs.map((p, i) => [key(p), round((perProc[i] ?? 0) / seconds)])),
    };
  };
}
