import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../migrate';
import { freePort, giveToPostgresUser, isRoot, requireBinary, runAsPostgresUser as run, tcpOpen, waitFor } from './process';

export interface PostgresServer {
  /** Superuser URL. */
  url: string;
  host: string;
  port: number;
  /** The directory holding the cluster (`data/`), its unix socket and `postgres.log`. */
  dir: string;
  /** Migration files applied by this start (empty with `migrate: false` or when up to date). */
  applied: string[];
  /** Fast stop and start on the same data: a Postgres restart. */
  restart(): Promise<void>;
  /** An outage: the server stops (connections refused) and keeps its data until `resume`. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data. */
  resume(): Promise<void>;
  /** Stops the server; removes the directory unless it was given as `dir`. */
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Apply the Supabase bootstrap and every migration not yet recorded (default true). */
  migrate?: boolean;
  /**
   * Keep the cluster in this directory instead of a temp dir that `stop()` removes. An
   * existing cluster there is reused, so data survives between runs (the local stack).
   */
  dir?: string;
  /** With `dir`: throw away whatever cluster is there and start from an empty one. */
  fresh?: boolean;
  /** Preferred port; a free one is taken when it is busy (default: any free port). */
  port?: number;
  /**
   * fsync and full-page writes on, for data that must survive a crash of the machine. Off by
   * default: tests and throwaway clusters are several times faster without them.
   */
  durable?: boolean;
  /** Default 200: the services' pools plus the benches' clients. */
  maxConnections?: number;
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

const pgMajor = '15';
const pgBin = `/usr/lib/postgresql/${pgMajor}/bin`;

/** The socket path of a cluster is `<dir>/.s.PGSQL.<port>`, and Linux allows 107 bytes. */
const maxSocketDirLength = 107 - '/.s.PGSQL.65535'.length;

/**
 * A real PostgreSQL 15 on loopback with the Supabase bootstrap and every migration applied
 * (unless `migrate: false`). The one way this repository starts Postgres: integration
 * tests, benchmarks, `scripts/test-db.sh` (through `scripts/with-postgres.ts`) and the
 * local stack all come here.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const initdb = requireBinary([join(pgBin, 'initdb')], `postgresql-${pgMajor}`);
  const pgCtl = join(pgBin, 'pg_ctl');
  const temp = options.dir === undefined;
  const dir = temp ? await mkdtemp(join(tmpdir(), 'lessoncall-pg-')) : resolve(options.dir as string);
  // The socket directory goes into a server option string unquoted: keep it a plain path.
  if (/[\s'"\\]/.test(dir)) throw new Error(`Postgres directory must not contain spaces or quotes: ${dir}`);
  if (dir.length > maxSocketDirLength) throw new Error(`Postgres directory too long for a unix socket (${dir.length} > ${maxSocketDirLength} bytes): ${dir}`);
  await mkdir(dir, { recursive: true });
  giveToPostgresUser(dir);
  await chmod(dir, 0o700);
  if (isRoot()) {
    try {
      run('test', ['-w', dir]);
    } catch {
      throw new Error(`the postgres user cannot reach ${dir}: is a parent directory not traversable (chmod o+x)?`);
    }
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');

  try {
    // A server left running in this directory by a run that crashed holds the data: stop it.
    if (existsSync(join(data, 'postmaster.pid'))) stopCluster(pgCtl, data, 'fast');
    if (options.fresh) await rm(data, { recursive: true, force: true });
    if (!existsSync(join(data, 'PG_VERSION'))) {
      if (existsSync(data) && readdirSync(data).length > 0) throw new Error(`${data} is neither empty nor a PostgreSQL data directory`);
      run(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    } else {
      const version = readFileSync(join(data, 'PG_VERSION'), 'utf8').trim();
      if (version !== pgMajor) throw new Error(`${data} holds a PostgreSQL ${version} cluster, not ${pgMajor}`);
    }

    const port = options.port !== undefined && !(await tcpOpen(options.port)) ? options.port : await freePort();
    const fast = options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=${options.maxConnections ?? 200}${fast}`;
    const start = () => run(pgCtl, ['-D', data, '-o', opts, '-l', logFile, '-w', '-t', '60', 'start']);
    try {
      start();
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${tail(logFile)}`, { cause: err });
    }
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitFor('postgres', async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.end();
      return true;
    });
    const applied = options.migrate === false ? [] : await migrate({ databaseUrl: url, supabaseDir: join(repoRoot, 'supabase') });
    return {
      url,
      host: '127.0.0.1',
      port,
      dir,
      applied,
      async restart() {
        stopCluster(pgCtl, data, 'fast');
        start();
      },
      async halt() {
        // fast, not immediate: with fsync and synchronous_commit off, an immediate stop loses
        // the WAL still in shared memory, and tables created moments ago with it.
        stopCluster(pgCtl, data, 'fast');
      },
      async resume() {
        start();
      },
      async stop() {
        try {
          // A throwaway cluster needs no clean shutdown; a kept one does, so it starts without recovery.
          if (existsSync(join(data, 'postmaster.pid'))) stopCluster(pgCtl, data, temp ? 'immediate' : 'fast');
        } finally {
          if (temp) await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    if (temp) await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

function stopCluster(pgCtl: string, data: string, mode: 'fast' | 'immediate'): void {
  try {
    run(pgCtl, ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  } catch (err) {
    // A stale postmaster.pid (the machine rebooted) is not a running server.
    if (!/Is server running\?|No such process|not running/i.test((err as Error).message)) throw err;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}
