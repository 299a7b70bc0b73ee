import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, waitFor } from '@lessoncall/kit/testing';

export interface ServiceProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:<port> for a gateway. */
  url: string;
  output(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs a service as its own process, as in production (`tsx services/<name>/src/main.ts`
 * with env), and waits for its /readyz. `readyPort` is the port serving /readyz (the gateway's
 * PORT, a backend's HEALTH_PORT).
 */
export async function spawnService(name: string, env: Record<string, string>, readyPort: number): Promise<ServiceProcess> {
  // `node --import tsx`, not the tsx CLI: one process, so the pid is the service's own (its RSS, its SIGKILL).
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'services', name, 'src/main.ts')], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  const url = `http://127.0.0.1:${readyPort}`;
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  await waitFor(
    `${name} /readyz`,
    async () => {
      if (dead) throw new Error('exited');
      return (await fetch(`${url}/readyz`)).ok;
    },
    30_000,
    () => out,
  ).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    name,
    pid: child.pid ?? 0,
    url,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (dead) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
