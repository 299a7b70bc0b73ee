import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';

const webDir = resolve(import.meta.dirname, '..');
const dirs: string[] = [];

/** Builds the app as `vite build --mode <mode>` would, into a temp dir, and returns every emitted script. */
async function bundle(mode: 'production' | 'test'): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), `lessoncall-web-${mode}-`));
  dirs.push(outDir);
  // As the CLI runs it: vitest sets NODE_ENV=test, which would make Vite build a DEV bundle.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: webDir, configFile: join(webDir, 'vite.config.ts'), mode, logLevel: 'silent', build: { outDir, emptyOutDir: true, sourcemap: false } });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  const files = (await readdir(join(outDir, 'assets'))).filter((f) => f.endsWith('.js'));
  return (await Promise.all(files.map((f) => readFile(join(outDir, 'assets', f), 'utf8')))).join('\n');
}

describe('the production bundle', () => {
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('has no window.__lessoncall (it hands out TURN credentials); the test build the browser suite uses has it', async () => {
    const production = await bundle('production');
    expect(production.length).toBeGreaterThan(10_000);
    // Booleans, not the bundle in the failure message (it is a megabyte).
    expect({ hook: production.includes('__lessoncall'), rtcConfiguration: production.includes('rtcConfiguration') }).toEqual({
      hook: false,
      rtcConfiguration: false,
    });
    // The grep can find it: the same source built for the browser suite carries the hook.
    const test = await bundle('test');
    expect(test.includes('__lessoncall')).toBe(true);
  }, 180_000);
});
