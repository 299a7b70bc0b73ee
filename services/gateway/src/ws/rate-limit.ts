/** Milliseconds since some fixed point; injected so tests drive time by hand. */
export type Now = () => number;

/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. One per socket,
 * so it is two numbers, no timer.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: Now;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, now: Now) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  /** Whether the bucket has refilled to its burst (nothing to remember about this client). */
  full(): boolean {
    return Math.min(this.#burst, this.#tokens + (this.#now() - this.#at) * this.#rate) >= this.#burst;
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (t - this.#at) * this.#rate);
    this.#at = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Counts events in fixed windows; `hit()` says whether the current window went over `limit`. */
export class WindowCounter {
  readonly #windowMs: number;
  readonly #limit: number;
  readonly #now: Now;
  #start: number;
  #count = 0;

  constructor(limit: number, windowMs: number, now: Now) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
    this.#start = now();
  }

  hit(): boolean {
    const t = this.#now();
    if (t - this.#start >= this.#windowMs) {
      this.#start = t;
      this.#count = 0;
    }
    this.#count += 1;
    return this.#count > this.#limit;
  }
}
