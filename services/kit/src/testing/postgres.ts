import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../migrate';
import { freePort, giveToPostgresUser, requireBinary, runAsPostgresUser as run, waitFor } from './process';

export interface PostgresServer {
  /** Superuser URL. */
  url: string;
  port: number;
  /** Fast stop and start on the same data: a Postgres restart. */
  restart(): Promise<void>;
  /** An outage: the server stops (connections refused) and keeps its data until `resume`. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

const pgBin = '/usr/lib/postgresql/15/bin';

/**
 * A real PostgreSQL 15 in a temp dir on a free port, with the Supabase bootstrap and every
 * migration applied (unless `migrate: false`).
 */
export async function startPostgres(options: { migrate?: boolean } = {}): Promise<PostgresServer> {
  const initdb = requireBinary([join(pgBin, 'initdb')], 'postgresql-15');
  const pgCtl = join(pgBin, 'pg_ctl');
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-pg-'));
  giveToPostgresUser(dir);
  await chmod(dir, 0o700);
  const data = join(dir, 'data');
  run(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = () => run(pgCtl, ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor('postgres', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.end();
    return true;
  });
  if (options.migrate !== false) await migrate({ databaseUrl: url, supabaseDir: join(repoRoot, 'supabase') });
  return {
    url,
    port,
    async restart() {
      run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']);
      start();
    },
    async halt() {
      // fast, not immediate: with fsync and synchronous_commit off, an immediate stop loses
      // the WAL still in shared memory, and tables created moments ago with it.
      run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async resume() {
      start();
    },
    async stop() {
      try {
        run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
