import pg from 'pg';
import { ServiceError } from './errors';
import { SpanKind, withSpan } from './telemetry';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type PoolClient = pg.PoolClient;
export type QueryResultRow = pg.QueryResultRow;

/** Statements run inside a transaction; every query is a span. */
export interface Tx {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface DbOptions {
  url: string;
  max?: number;
  applicationName?: string;
  /**
   * The role every connection takes as it opens (`set role`), so that a single statement can
   * run without a transaction around it (see `autocommit`). Services use `service_role`; the
   * test harness's own connection keeps its login role.
   */
  sessionRole?: 'service_role';
}

/**
 * Postgres access with row-level security as the real gate: user-initiated reads run as
 * `authenticated` with the user's claims (what Supabase's API does); system work runs as
 * `service_role`.
 */
export class Db {
  readonly pool: pg.Pool;
  /**
   * One statement as the system, in its own implicit transaction: one round trip instead of
   * three (begin, the statement, commit). For reads and for writes that are one statement;
   * anything that must see its own earlier statement, or lock across statements, takes
   * `asService`. Without a `sessionRole` it falls back to a transaction per statement.
   */
  readonly autocommit: Tx;

  constructor(options: DbOptions) {
    const role = options.sessionRole;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      application_name: options.applicationName,
      connectionTimeoutMillis: 5_000,
      // In the startup packet, so a connection is never usable with its login role's rights.
      // A transaction's `set local role` still overrides it and reverts to it at commit.
      // (A pooler in front must forward startup options.)
      ...(role ? { options: `-c role=${role}` } : {}),
    });
    // An idle client losing its server (Postgres restart) must not crash the process.
    this.pool.on('error', () => {});
    if (role) {
      this.autocommit = { query: (text, values) => traced(text, () => this.pool.query(text, values)) };
    } else {
      this.autocommit = { query: (text, values) => this.asService((tx) => tx.query(text, values)) };
    }
  }

  /** As the signed-in user: `role authenticated` and `request.jwt.claims` for the transaction. */
  asUser<T>(userId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    // Inlined (one round trip with BEGIN) only because a uuid cannot carry SQL.
    if (!uuidPattern.test(userId)) return Promise.reject(new ServiceError('invalid_request', 'user id is not a uuid', { field: 'userId' }));
    const claims = JSON.stringify({ sub: userId.toLowerCase(), role: 'authenticated' });
    return this.#transaction(`begin; set local role authenticated; select set_config('request.jwt.claims', '${claims}', true)`, fn);
  }

  /** As the system (booking consumers, sweeps): `role service_role`. */
  asService<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#transaction('begin; set local role service_role', fn);
  }

  async ping(): Promise<void> {
    await this.pool.query('select 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * A pooled connection for `fn`, returned afterwards. While it is checked out the pool no longer
   * listens for its errors, and node-postgres emits a server's goodbye (Postgres stopped or
   * restarted: 57P01 "terminating connection due to administrator command") on the client when
   * no query is running — between two queries of a transaction waiting on NATS, say — which
   * without a listener ends the process (found by the drills: a 10 s Postgres stop crashed every
   * meeting replica). Here it is kept: the next query fails with it, and the connection is
   * destroyed instead of returned. `discard()` destroys it too (a failed rollback).
   */
  async withConnection<T>(fn: (client: pg.PoolClient, discard: () => void) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | boolean = false;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      return await fn(client, () => {
        broken ||= true;
      });
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  #transaction<T>(begin: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.withConnection(async (client, discard) => {
      const tx: Tx = { query: (text, values) => traced(text, () => client.query(text, values)) };
      try {
        await client.query(begin);
        const result = await fn(tx);
        await client.query('commit');
        return result;
      } catch (err) {
        try {
          await client.query('rollback');
        } catch {
          discard();
        }
        throw err;
      }
    });
  }
}

function traced<T>(text: string, run: () => Promise<T>): Promise<T> {
  return withSpan('pg.query', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.statement': text.slice(0, 500) } }, run);
}

/** Postgres error codes callers branch on. */
export const pgErrors = {
  uniqueViolation: '23505',
  checkViolation: '23514',
  foreignKeyViolation: '23503',
  insufficientPrivilege: '42501',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
