/**
 * Once per run: builds the app (unless E2E_SKIP_BUILD), starts or finds the stack
 * (stack.ts), hands its addresses to the workers, and stops it after the last test.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { findOrStartStack, stackEnvVariable } from './stack';
import { screenshotsDir } from './steps';

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!process.env.E2E_SKIP_BUILD) {
    console.log('building the web app…');
    const r = spawnSync('pnpm', ['exec', 'vite', 'build', '--mode', 'test', '--logLevel', 'warn'], {
      cwd: resolve(import.meta.dirname, '..'),
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('vite build failed');
  }
  mkdirSync(screenshotsDir, { recursive: true });
  const stack = await findOrStartStack();
  process.env[stackEnvVariable] = JSON.stringify(stack.env);
  return async () => {
    await stack.stop();
    if (stack.logDir && process.env.E2E_KEEP_STACK_DIR) console.log(`service logs: ${stack.logDir}`);
  };
}
