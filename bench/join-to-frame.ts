/**
 * Join → first remote video frame at both ends, full stack through TURN, next to two bare
 * RTCPeerConnections in the same browser and run. The browser code lives with the web app's
 * browser tests (web/e2e/join-to-frame.ts, typed against the DOM); this is its entry point.
 *
 *   pnpm exec tsx bench/join-to-frame.ts        (RUNS=15 WARMUP=2)
 *
 * Writes bench/results/join-to-frame.json.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(root, 'web/e2e/join-to-frame.ts')], { cwd: resolve(root, 'web'), stdio: 'inherit' });
process.exitCode = r.status ?? 1;
