import { client, type Logger, type NatsConnection, type ServiceClient } from '@lessoncall/kit';
import { ParticipantService } from '@lessoncall/proto';

export type PresenceState = 'connected' | 'disconnected' | 'heartbeat';

interface Job {
  meetingId: string;
  sessionId: string;
  state: PresenceState;
  resolve: (live: boolean | undefined) => void;
}

export interface PresenceOptions {
  nc: NatsConnection;
  gatewayId: string;
  timeoutMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  logger: Logger;
  onFailure?: (state: PresenceState) => void;
}

/**
 * Reports socket liveness to the participant service (svc.participant.presence) through a
 * bounded queue: connects and disconnects first, heartbeats after, never more than
 * `concurrency` requests in flight — so a heartbeat round of 20k sockets is spread out
 * instead of 20k requests at once.
 */
export class PresenceReporter {
  readonly #o: PresenceOptions;
  readonly #urgent: Job[] = [];
  readonly #heartbeats: Job[] = [];
  #inFlight = 0;
  #idle: Array<() => void> = [];

  readonly #participants: ServiceClient<typeof ParticipantService>;

  constructor(options: PresenceOptions) {
    this.#o = options;
    this.#participants = client(options.nc, ParticipantService, { timeoutMs: options.timeoutMs });
  }

  /** Resolves with the service's `live` answer, or undefined when it could not be reached (logged, never thrown). */
  report(meetingId: string, sessionId: string, state: PresenceState): Promise<boolean | undefined> {
    return new Promise((resolve) => {
      (state === 'heartbeat' ? this.#heartbeats : this.#urgent).push({ meetingId, sessionId, state, resolve });
      this.#pump();
    });
  }

  get queued(): number {
    return this.#urgent.length + this.#heartbeats.length;
  }

  /** Resolves once nothing is queued or in flight (for shutdown, after the last socket closed). */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < this.#o.concurrency) {
      const job = this.#urgent.shift() ?? this.#heartbeats.shift();
      if (!job) {
        if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
        return;
      }
      this.#inFlight++;
      void this.#send(job).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #send(job: Job): Promise<void> {
    const { meetingId, sessionId, state } = job;
    try {
      const ack = await this.#participants.presence({ meetingId, sessionId, state, gatewayId: this.#o.gatewayId });
      job.resolve(ack.live);
    } catch (err) {
      this.#o.onFailure?.(state);
      this.#o.logger.warn({ err, meetingId, sessionId, state }, 'presence report failed');
      job.resolve(undefined);
    }
  }
}
