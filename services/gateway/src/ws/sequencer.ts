/** A signal as it travels: the Signal's proto3 JSON, opaque here. */
type Signal = unknown;

export interface SequencerOptions {
  /** How long an early signal waits for the ones numbered before it. */
  waitMs: number;
  /** Early signals held per sender at most; one more declares the hole lost at once. */
  maxHeld: number;
  /** Hands a signal on, in the sender's order. */
  deliver: (fromSessionId: string, signal: Signal, seq: number) => void;
  /** Signals given up on: `missing` numbers never came (in time). */
  onGap: (fromSessionId: string, missing: number) => void;
  /** A signal came after its hole had been given up on, and was dropped. */
  onLate: (fromSessionId: string) => void;
}

interface Sender {
  expected: number;
  held: Map<number, Signal>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Puts one receiver's signals back in each sender's order. Signals of one sender can arrive
 * out of order (two signaling replicas share a queue group; a pair moves from the signaling
 * path to the direct one) or not at all (a socket, a gateway or a replica gone mid-flight).
 * An early signal waits up to `waitMs` for the ones before it; then the hole is declared lost,
 * counted, and delivery goes on — the client sees the jump in the numbering and restarts ICE.
 * A signal arriving after its hole was declared is dropped: the restart supersedes it.
 *
 * Numbering starts at 1, and 1 starts it again (the sender's page reloaded or it started a new
 * connection to us). A sender first seen far into its numbering is taken from there (this
 * gateway took the receiving session over mid-call). 0 is "not numbered": delivered as it comes.
 */
export class SignalSequencer {
  readonly #o: SequencerOptions;
  readonly #senders = new Map<string, Sender>();

  constructor(options: SequencerOptions) {
    this.#o = options;
  }

  push(from: string, signal: Signal, seq: number): void {
    if (seq === 0) {
      this.#o.deliver(from, signal, seq);
      return;
    }
    let s = this.#senders.get(from);
    if (s && seq === 1 && s.expected > 1) {
      // The sender numbers afresh (a new connection to us): what was held belongs to the old one.
      this.#reset(s);
      s = undefined;
    }
    if (!s) {
      // A young numbering is waited for from its start (its first signals may just be late);
      // one already well under way means this gateway took the session over mid-call.
      s = { expected: seq <= this.#o.maxHeld ? 1 : seq, held: new Map(), timer: undefined };
      this.#senders.set(from, s);
    }
    if (seq < s.expected) {
      this.#o.onLate(from);
      return;
    }
    if (seq > s.expected) {
      s.held.set(seq, signal);
      if (s.held.size > this.#o.maxHeld) this.#giveUp(from, s);
      else s.timer ??= setTimeout(() => this.#giveUp(from, s), this.#o.waitMs);
      return;
    }
    this.#o.deliver(from, signal, seq);
    s.expected = seq + 1;
    this.#drain(from, s);
  }

  /** The sender left: forget it. */
  forget(from: string): void {
    const s = this.#senders.get(from);
    if (s) this.#reset(s);
    this.#senders.delete(from);
  }

  close(): void {
    for (const s of this.#senders.values()) this.#reset(s);
    this.#senders.clear();
  }

  #giveUp(from: string, s: Sender): void {
    clearTimeout(s.timer);
    s.timer = undefined;
    if (s.held.size === 0) return;
    const next = Math.min(...s.held.keys());
    this.#o.onGap(from, next - s.expected);
    s.expected = next;
    this.#drain(from, s);
  }

  #drain(from: string, s: Sender): void {
    for (let signal = s.held.get(s.expected); signal; signal = s.held.get(s.expected)) {
      s.held.delete(s.expected);
      this.#o.deliver(from, signal, s.expected);
      s.expected += 1;
    }
    if (s.held.size === 0) {
      clearTimeout(s.timer);
      s.timer = undefined;
    } else {
      s.timer ??= setTimeout(() => this.#giveUp(from, s), this.#o.waitMs);
    }
  }

  #reset(s: Sender): void {
    clearTimeout(s.timer);
    s.timer = undefined;
    s.held.clear();
  }
}
