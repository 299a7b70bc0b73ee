import { type Logger, retryWhileJetStreamUnavailable, ServiceError } from '@lessoncall/kit';
import { type JetStreamClient, StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { Identity, TokenVerifier } from './verify';
import { isUuid } from './verify';

/**
 * Sign-out, enforced by the gateway. An access token is a signed statement that lives until its
 * `exp`: signing out at Supabase ends the refresh token, not the access tokens already handed
 * out, so without this a copied token (a shared computer, a leaked log) keeps working for up to
 * an hour, sockets included. `POST /api/video/sign-out` records the sign-out in a KV bucket
 * every gateway watches:
 *
 * - `global` (what supabase-js `signOut()` does by default): every token of the user issued at or
 *   before the sign-out is refused — `user.<userId>` = the sign-out time;
 * - `local`: only the tokens of this sign-in (the token's `session_id`, which every token minted
 *   from the same refresh chain carries) — `session.<sessionId>`.
 *
 * A refused token answers 401 `token_revoked` on REST and in `hello`; the gateway closes the
 * sockets opened with such tokens (4401). Records expire with the bucket's max age
 * (`TOKEN_REVOCATION_TTL_SECONDS`), which must be at least the issuer's access-token lifetime:
 * by then every token the record speaks of has expired anyway.
 */
export interface Revocations {
  /** Whether a verified token was signed out. */
  isRevoked(identity: Identity): boolean;
  /** Records a sign-out for the token's user (global) or its sign-in (local). */
  revoke(identity: Identity, scope: SignOutScope): Promise<void>;
  /** Called after every sign-out any gateway records (sockets opened with its tokens are to close). */
  onRevoked(listener: () => void): () => void;
  stop(): Promise<void>;
}

export type SignOutScope = 'global' | 'local';

export const revocationBucket = 'gateway_revocations';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The token's sign-in, when it names one (Supabase tokens do; a service credential does not). */
function sessionIdOf(identity: Identity): string | undefined {
  const sid = identity.claims.session_id;
  return isUuid(sid) ? sid : undefined;
}

export function isRevokedBy(records: ReadonlyMap<string, number>, identity: Identity): boolean {
  const sid = sessionIdOf(identity);
  if (sid && records.has(`session.${sid}`)) return true;
  const userRevokedAt = identity.userId ? records.get(`user.${identity.userId}`) : undefined;
  // No iat: the token's age is unknown, so a global sign-out covers it.
  return userRevokedAt !== undefined && (identity.claims.iat ?? 0) <= userRevokedAt;
}

/**
 * Watches the bucket from its start (every record still kept), and resolves once those are in
 * memory: a gateway never answers a request before it knows every sign-out.
 */
export async function startRevocations(options: { js: JetStreamClient; ttlSeconds: number; replicas?: number; logger: Logger }): Promise<Revocations> {
  // Started with the gateway: like its streams, it waits for a JetStream that cannot answer yet.
  const kv: KV = await retryWhileJetStreamUnavailable(
    () =>
      new Kvm(options.js).create(revocationBucket, {
        history: 1,
        ttl: options.ttlSeconds * 1000,
        storage: StorageType.File,
        replicas: options.replicas ?? 1,
      }),
    { logger: options.logger, what: `KV ${revocationBucket}` },
  );
  const records = new Map<string, number>();
  const listeners = new Set<() => void>();
  let initialized!: () => void;
  const ready = new Promise<void>((r) => {
    initialized = r;
  });
  // An empty bucket has nothing to wait for; otherwise the watch is initialized at its entry
  // with nothing pending behind it (delta 0), or at the first update after the initial ones.
  if ((await kv.status()).values === 0) initialized();
  const watch = await kv.watch({ key: '>' });
  const done = (async () => {
    for await (const e of watch) {
      if (e.isUpdate || e.delta === 0) initialized();
      if (e.operation !== 'PUT') {
        records.delete(e.key);
        continue;
      }
      const at = Number(new TextDecoder().decode(e.value));
      if (!Number.isFinite(at)) continue;
      records.set(e.key, at);
      for (const l of listeners) l();
    }
  })().catch((err) => options.logger.error({ err }, 'sign-out watch stopped'));
  await ready;
  // The bucket forgets a record after its max age; so does this copy (the watch says nothing then).
  const prune = setInterval(() => {
    const oldest = nowSeconds() - options.ttlSeconds;
    for (const [k, at] of records) if (at < oldest) records.delete(k);
  }, 60_000);
  prune.unref();

  return {
    isRevoked: (identity) => isRevokedBy(records, identity),
    async revoke(identity, scope) {
      const at = nowSeconds();
      if (scope === 'local') {
        const sid = sessionIdOf(identity);
        if (!sid) throw new ServiceError('invalid_request', 'this token names no sign-in (session_id); sign out with scope "global"', { field: 'scope' });
        await kv.put(`session.${sid}`, String(at));
      } else {
        if (!isUuid(identity.userId)) throw new ServiceError('forbidden', "signing out needs a user's access token");
        await kv.put(`user.${identity.userId}`, String(at));
      }
      // This gateway refuses the token from the moment the sign-out is answered, not only once its watch delivers it.
      records.set(scope === 'local' ? `session.${sessionIdOf(identity)}` : `user.${identity.userId}`, at);
      for (const l of listeners) l();
    },
    onRevoked(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      clearInterval(prune);
      watch.stop();
      await done;
    },
  };
}

/** A verifier that also refuses signed-out tokens (401 `token_revoked`). */
export function refusingRevoked(verifier: TokenVerifier, revocations: Pick<Revocations, 'isRevoked'>): TokenVerifier {
  return {
    async verify(token) {
      const identity = await verifier.verify(token);
      if (revocations.isRevoked(identity)) throw new ServiceError('token_revoked', 'this access token was signed out; sign in again');
      return identity;
    },
  };
}
