/**
 * The full local stack for the browser tests and the join-to-frame benchmark. When a stack
 * is already running (`npm start` wrote .local/stack.env, or LESSONCALL_STACK_ENV names a
 * file) and answers, it is used as it is; otherwise one is started in a temp dir with the
 * same code `npm start` uses (scripts/stack.ts: Postgres, NATS, coturn, every service, the
 * gateway serving web/dist with the dev issuer on) and stopped afterwards.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startStack } from '../../scripts/stack';

export const repoRoot = resolve(import.meta.dirname, '../..');

/** Where the browser tests' global setup leaves the stack's StackEnv (JSON) for the workers. */
export const stackEnvVariable = 'LESSONCALL_E2E_STACK';

export interface StackEnv {
  GATEWAY_URL: string;
  /** The gateway's /metrics, on its HEALTH_PORT (not served on GATEWAY_URL). */
  GATEWAY_METRICS_URL: string;
  WEB_URL: string;
  NATS_URL: string;
  DATABASE_URL: string;
  TURN_URLS: string;
  [key: string]: string;
}

export interface E2eStack {
  env: StackEnv;
  /** True when we found a running stack (and must leave it running). */
  external: boolean;
  /** Where the services log (own stacks only). */
  logDir: string | undefined;
  stop(): Promise<void>;
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#') || !t.includes('=')) continue;
    out[t.slice(0, t.indexOf('=')).trim()] = t.slice(t.indexOf('=') + 1).trim();
  }
  return out;
}

async function answers(env: Record<string, string>): Promise<boolean> {
  try {
    const ready = await fetch(`${env.GATEWAY_URL}/readyz`, { signal: AbortSignal.timeout(2_000) });
    if (!ready.ok) return false;
    // The gateway must serve the web app too (WEB_DIST_DIR), or there is nothing to test.
    const page = await fetch(`${env.WEB_URL}/`, { headers: { accept: 'text/html' }, signal: AbortSignal.timeout(2_000) });
    return page.ok && (await page.text()).includes('id="root"');
  } catch {
    return false;
  }
}

export async function findOrStartStack(log: (line: string) => void = console.log): Promise<E2eStack> {
  const file = process.env.LESSONCALL_STACK_ENV ?? join(repoRoot, '.local/stack.env');
  if (existsSync(file)) {
    const env = parseEnvFile(readFileSync(file, 'utf8'));
    if (env.GATEWAY_URL && env.GATEWAY_METRICS_URL && env.NATS_URL && (await answers(env))) {
      log(`using the running stack from ${file} (${env.GATEWAY_URL})`);
      return { env: env as StackEnv, external: true, logDir: undefined, stop: async () => {} };
    }
    log(`${file} does not answer; starting a stack of our own`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-e2e-'));
  // mkdtemp makes it 0700; Postgres runs as its own user (when we are root) and must reach its data dir inside.
  await chmod(dir, 0o755);
  // Free ports only: the usual ones belong to `npm start`, and parallel runs on one machine must not collide.
  const stack = await startStack({ dir, persistent: false, freePorts: true, log: (l) => log(`  stack: ${l}`) });
  return {
    env: stack.env as StackEnv,
    external: false,
    logDir: join(dir, 'logs'),
    async stop() {
      await stack.stop();
      if (!process.env.E2E_KEEP_STACK_DIR) await rm(dir, { recursive: true, force: true });
    },
  };
}
