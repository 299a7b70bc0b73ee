/**
 * TURN credentials expire (the welcome's iceTtlSeconds): a relayed call would lose its
 * allocation when coturn refuses the refresh. At 80 % of the TTL (at least 30 s) the socket is
 * dropped and resumed, and the resume's welcome brings fresh credentials — without the call
 * showing a drop for it.
 */
export class CredentialRenewal {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #renewing = false;

  /** `renew` drops the socket for its resume; false when there is no call to renew (it did nothing). */
  constructor(private readonly renew: () => boolean) {}

  /** After every welcome: the next renewal for these credentials (0: they do not expire). */
  schedule(ttlSeconds: number): void {
    this.stop();
    if (!ttlSeconds) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#renewing = this.renew();
      },
      Math.max(30_000, ttlSeconds * 800),
    );
  }

  /** A reconnect attempt that is our renewal's first: not a lost connection to tell the user about. */
  isRenewal(attempt: number): boolean {
    return this.#renewing && attempt === 1;
  }

  /** The welcome came: true when it ended a renewal (relayed connections then move onto the fresh credentials). */
  welcomed(): boolean {
    const was = this.#renewing;
    this.#renewing = false;
    return was;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
