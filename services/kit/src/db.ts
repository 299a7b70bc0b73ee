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
}

/**
 * Postgres access with row-level security as the real gate: user-initiated reads run as
 * `authenticated` with the user's claims (what Supabase's API does); system work runs as
 * `service_role`.
 */
export class Db {
  readonly pool: pg.Pool;

  constructor(options: DbOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      application_name: options.applicationName,
      connectionTimeoutMillis: 5_000,
    });
    // An idle client losing its server (Postgres restart) must not crash the process.
    this.pool.on('error', () => {});
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

  async #transaction<T>(begin: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Tx = {
      query: (text, values) =>
        withSpan('pg.query', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.statement': text.slice(0, 500) } }, () =>
          client.query(text, values),
        ),
    };
    let broken = false;
    try {
      await client.query(begin);
      const result = await fn(tx);
      await client.query('commit');
      return result;
    } catch (err) {
      try {
        await client.query('rollback');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }
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
