/** Time is injected so that expiry, lockout and grace periods are tested without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start: Date | string = '2026-01-01T10:00:00Z') {
    this.#t = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#t);
  }
  set(to: Date | string): void {
    this.#t = new Date(to).getTime();
  }
  advance(ms: number): void {
    this.#t += ms;
  }
}
