/**
 * Runs a command against a throwaway PostgreSQL 15 from the test harness, so shell scripts
 * (scripts/test-db.sh) start Postgres the same way the tests and the local stack do:
 *
 *   tsx scripts/with-postgres.ts [--no-migrate] -- <command> [args…]
 *
 * The command gets DATABASE_URL (superuser) and PGHOST, PGPORT, PGUSER, PGDATABASE; its exit
 * code is ours. The cluster is removed afterwards, also on Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { startPostgres } from '@lessoncall/kit/testing';

const args = process.argv.slice(2);
const dashes = args.indexOf('--');
const flags = dashes === -1 ? [] : args.slice(0, dashes);
const command = dashes === -1 ? args : args.slice(dashes + 1);
const unknown = flags.filter((f) => f !== '--no-migrate');
if (command.length === 0 || unknown.length > 0) {
  console.error(`${unknown.length ? `unknown option ${unknown.join(' ')}\n` : ''}usage: tsx scripts/with-postgres.ts [--no-migrate] -- <command> [args…]`);
  process.exit(2);
}

let postgres: Awaited<ReturnType<typeof startPostgres>>;
try {
  postgres = await startPostgres({ migrate: !flags.includes('--no-migrate') });
} catch (err) {
  console.error(`with-postgres: could not start PostgreSQL: ${(err as Error).message}`);
  process.exit(1);
}

const child = spawn(command[0] as string, command.slice(1), {
  stdio: 'inherit',
  env: {
    ...process.env,
    DATABASE_URL: postgres.url,
    PGHOST: postgres.host,
    PGPORT: String(postgres.port),
    PGUSER: 'postgres',
    PGDATABASE: 'postgres',
  },
});
// The terminal sends Ctrl-C to the whole group; the child handles it, we wait for it to exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) => {
  child.once('error', (err) => {
    console.error(`with-postgres: ${command[0]}: ${err.message}`);
    resolve(127);
  });
  child.once('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 1)));
});
await postgres.stop();
process.exit(code);
