import { ServiceError, httpStatusOf } from './errors';

/**
 * What retrying can do about a failure:
 * - `invalid`: the message itself is wrong (bad field, undecodable, a 4xx ServiceError, data
 *   Postgres rejects): the same bytes fail the same way forever, so it is dead-lettered at once.
 * - `transient`: the world is wrong (connection refused or reset, the database shutting down or
 *   starting, a serialization failure or deadlock, a timeout, `unavailable`): it will succeed
 *   once the dependency is back, so it is retried for as long as it takes.
 * - `unknown`: anything else (most likely a bug). Retried a few times, because a bug that
 *   depends on timing may pass, then dead-lettered so that it cannot block the stream; the
 *   operator replays it after the fix.
 */
export type FailureKind = 'invalid' | 'transient' | 'unknown';

const transientSystemCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs that say "try again", by exact code or by class (first two characters). */
const transientSqlStates = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '58000', '58030']);
const transientSqlClasses = new Set(['08', '53']);
/** Data exceptions and integrity violations: the row is wrong, not the database. */
const invalidSqlClasses = new Set(['22', '23']);

/** node-postgres says these in words, without a code. */
const transientMessages =
  /connection terminated|timeout exceeded when trying to connect|connection timeout|the database system is (starting up|shutting down)|Client has encountered a connection error/i;

export function classifyFailure(err: unknown, depth = 0): FailureKind {
  if (depth > 5 || err === null || err === undefined) return 'unknown';
  if (err instanceof ServiceError) {
    if (err.code === 'unavailable') return 'transient';
    return httpStatusOf[err.code] < 500 ? 'invalid' : 'unknown';
  }
  if (typeof err !== 'object') return 'unknown';
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  if (typeof e.code === 'string') {
    if (transientSystemCodes.has(e.code)) return 'transient';
    if (/^[0-9A-Z]{5}$/.test(e.code)) {
      if (transientSqlStates.has(e.code) || transientSqlClasses.has(e.code.slice(0, 2))) return 'transient';
      if (invalidSqlClasses.has(e.code.slice(0, 2))) return 'invalid';
    }
  }
  if (err instanceof AggregateError && err.errors.length > 0) {
    const kinds = err.errors.map((x) => classifyFailure(x, depth + 1));
    if (kinds.every((k) => k === 'transient')) return 'transient';
  }
  // nats.js v3: a request or JetStream call nobody answered (RequestError carries NoResponders as its cause).
  if (typeof e.name === 'string' && /^(TimeoutError|NoRespondersError|NoResponders|JetStreamNotEnabled)$/.test(e.name)) return 'transient';
  if (typeof e.message === 'string' && transientMessages.test(e.message)) return 'transient';
  if (e.cause !== undefined) return classifyFailure(e.cause, depth + 1);
  return 'unknown';
}
