import { type NatsConnection, publishBytes } from '@lessoncall/kit';

interface Pending {
  subject: string;
  /** A SignalEnvelope, encoded. */
  data: string;
  onError: (err: unknown) => void;
}

/**
 * Publishes signal envelopes once per turn of the event loop instead of once per WebSocket
 * message. Every socket's frame arrives in its own callback, and nats.js flushes after each
 * callback: one write per signal. Queued until setImmediate, the signals of all sockets that
 * were readable in this turn leave in one write — under load the gateway's cost per message is
 * mostly system calls. Idle, a signal waits no longer than the rest of the current turn.
 *
 * The queue is bounded: past `max` signals in one turn `publish` refuses (the caller tells the
 * client), so an overloaded gateway pushes back instead of growing without limit.
 */
export class SignalOutbox {
  readonly #nc: NatsConnection;
  readonly #max: number;
  #queue: Pending[] = [];
  #scheduled = false;

  constructor(nc: NatsConnection, max: number) {
    this.#nc = nc;
    this.#max = max;
  }

  /** False when the queue is full: nothing was queued. */
  publish(subject: string, data: string, onError: Pending['onError']): boolean {
    if (this.#queue.length >= this.#max) return false;
    this.#queue.push({ subject, data, onError });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return true;
  }

  #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) {
      try {
        publishBytes(this.#nc, p.subject, p.data);
      } catch (err) {
        p.onError(err);
      }
    }
  };
}
