/** `npm start`: the whole stack on this machine, a demo lesson, and where to open it. Ctrl-C stops everything. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startStack } from './stack';

const stack = await startStack({ persistent: true, log: (l) => console.log(`  ${l}`) });
let stopping = false;
const stop = async () => {
  if (stopping) process.exit(1);
  stopping = true;
  console.log('\nstopping…');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

console.log(`\n  wrote ${join(stack.dir, 'stack.env')}`);
if (existsSync(join(repoRoot, 'scripts/booking.ts'))) {
  console.log('\n  publishing a demo booking (demo tutor + demo student, starting now)…');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/booking.ts'), '--in', '0m', '--minutes', '60', '--title', 'Demo lesson'], {
    cwd: repoRoot,
    env: { ...process.env, ...stack.env },
    stdio: 'inherit',
  });
  if (r.status !== 0) console.log('  (the demo booking failed; see the output above)');
}
console.log(`
  lessoncall is running:  ${stack.env.WEB_URL}
  gateway health:         ${stack.env.GATEWAY_URL}/readyz
  logs:                   ${join(stack.dir, 'logs')}
  more lessons:           npm run booking -- --in 5m --minutes 60
  Ctrl-C stops everything.
`);
