import { type Now, TokenBucket } from './rate-limit';

export type UpgradeRefusal = { reason: 'rate'; retryAfterSeconds: number } | { reason: 'sockets'; retryAfterSeconds: number };

interface ClientState {
  bucket: TokenBucket;
  open: number;
}

/**
 * WebSocket upgrades per client address, on this replica: a token bucket of upgrades (a
 * reconnect storm or a script opening sockets in a loop) and a cap on sockets open at once.
 * Per replica, so N replicas admit N times as much; sockets are long-lived and spread by the
 * load balancer, so a shared count would cost a KV round trip per upgrade for little.
 */
export class UpgradeLimiter {
  readonly #clients = new Map<string, ClientState>();
  readonly #perMinute: number;
  readonly #burst: number;
  readonly #maxOpen: number;
  readonly #now: Now;

  constructor(options: { perMinute: number; burst: number; maxOpen: number; now: Now }) {
    this.#perMinute = options.perMinute;
    this.#burst = options.burst;
    this.#maxOpen = options.maxOpen;
    this.#now = options.now;
  }

  /** Admits one upgrade from `client` (and counts its socket open until `closed`), or says why not. */
  admit(client: string): UpgradeRefusal | undefined {
    let state = this.#clients.get(client);
    if (!state) {
      state = { bucket: new TokenBucket(this.#perMinute / 60, this.#burst, this.#now), open: 0 };
      this.#clients.set(client, state);
    }
    // Sockets first: a client at its cap keeps its upgrade tokens for when one closes.
    if (state.open >= this.#maxOpen) return { reason: 'sockets', retryAfterSeconds: 5 };
    if (!state.bucket.take()) return { reason: 'rate', retryAfterSeconds: Math.max(1, Math.ceil(60 / this.#perMinute)) };
    state.open++;
    return undefined;
  }

  closed(client: string): void {
    const state = this.#clients.get(client);
    if (state) state.open = Math.max(0, state.open - 1);
  }

  /** Forgets clients with no socket whose bucket has refilled: the map holds only what matters. */
  sweep(): void {
    for (const [client, state] of this.#clients) {
      if (state.open === 0 && state.bucket.full()) this.#clients.delete(client);
    }
  }

  get tracked(): number {
    return this.#clients.size;
  }
}
