import { client, decode, type Logger, type Msg, type NatsConnection, readCloudEvent, type ServiceClient } from '@lessoncall/kit';
import { eventTypeOf, isSubjectToken, ParticipantJoinedSchema, ParticipantLeftSchema, ParticipantService } from '@lessoncall/proto';
import type { SignalingConfig } from './config';
import type { SignalingMetrics } from './metrics';
import type { Roster } from './roster';

export type RebuildTrigger = 'start' | 'reconnect' | 'resync' | 'manual';

type SyncConfig = Pick<
  SignalingConfig,
  'ROSTER_REBUILD_TIMEOUT_MS' | 'ROSTER_REBUILD_RETRY_MS' | 'ROSTER_RECHECK_MIN_INTERVAL_MS' | 'ROSTER_RECHECK_TIMEOUT_MS'
>;

/**
 * Keeps a replica's Roster true to the participant service, which owns who is live: applies
 * participant.joined/left as they come, reads every meeting's live sessions at start-up and after
 * a NATS reconnect (core subscriptions miss what happens while away), and re-reads one meeting
 * when a signal names a session the roster has not seen (it may have joined a moment ago).
 */
export class RosterSync {
  readonly #participants: ServiceClient<typeof ParticipantService>;
  readonly #roster: Roster;
  readonly #config: SyncConfig;
  readonly #metrics: SignalingMetrics;
  readonly #logger: Logger;
  #rebuilt = false;
  #stopped = false;
  #rebuilding: Promise<boolean> | undefined;
  readonly #rechecks = new Map<string, Promise<void>>();
  readonly #lastRecheck = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(nc: NatsConnection, roster: Roster, config: SyncConfig, metrics: SignalingMetrics, logger: Logger) {
    this.#participants = client(nc, ParticipantService, { timeoutMs: config.ROSTER_RECHECK_TIMEOUT_MS });
    this.#roster = roster;
    this.#config = config;
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /** True once the roster has been read in full from the participant service. */
  get rebuilt(): boolean {
    return this.#rebuilt;
  }

  /** participant.joined.<meeting> / participant.left.<meeting>, as published by the participant service. */
  onParticipantEvent(msg: Msg): void {
    const [, kind, meetingId] = msg.subject.split('.');
    if (kind !== 'joined' && kind !== 'left') return;
    try {
      readCloudEvent(msg.headers, eventTypeOf(msg.subject));
      const participant = kind === 'joined' ? decode(ParticipantJoinedSchema, msg.data).participant : decode(ParticipantLeftSchema, msg.data).participant;
      if (!participant || participant.meetingId !== meetingId || !isSubjectToken(participant.sessionId)) {
        throw new Error('participant missing or not of the subject meeting');
      }
      if (kind === 'joined') {
        if (!this.#roster.join(meetingId, participant.sessionId)) {
          this.#logger.debug({ meetingId, sessionId: participant.sessionId }, 'joined after its left: ignored');
        }
      } else {
        this.#roster.leave(meetingId, participant.sessionId);
      }
      this.#metrics.events.add(1, { type: kind });
    } catch (err) {
      this.#metrics.events.add(1, { type: 'invalid' });
      this.#logger.warn({ err, subject: msg.subject, meetingId }, 'participant event ignored');
    }
  }

  /** Re-reads every meeting's roster; false if the participant service did not answer. One at a time. */
  rebuild(trigger: RebuildTrigger): Promise<boolean> {
    this.#rebuilding ??= (async () => {
      const mark = this.#roster.mark();
      try {
        const res = await this.#liveSessions('', this.#config.ROSTER_REBUILD_TIMEOUT_MS);
        const changed = this.#roster.applySnapshot(res.sessions, mark);
        this.#rebuilt = true;
        this.#metrics.rebuilds.add(1, { trigger, outcome: 'ok' });
        this.#logger.info({ trigger, ...changed, ...this.#roster.size }, 'roster read from the participant service');
        return true;
      } catch (err) {
        this.#metrics.rebuilds.add(1, { trigger, outcome: 'error' });
        this.#logger.warn({ err, trigger }, 'could not read the roster from the participant service');
        return false;
      } finally {
        this.#rebuilding = undefined;
      }
    })();
    return this.#rebuilding;
  }

  /** Rebuilds, retrying every ROSTER_REBUILD_RETRY_MS until it succeeds or the service stops. */
  async rebuildUntilDone(trigger: 'start' | 'reconnect'): Promise<void> {
    while (!this.#stopped) {
      if (await this.rebuild(trigger)) return;
      await this.#later(this.#config.ROSTER_REBUILD_RETRY_MS);
    }
  }

  /** Re-reads one meeting's roster (a signal named a session this replica has not seen), at most once per ROSTER_RECHECK_MIN_INTERVAL_MS. */
  recheck(meetingId: string): Promise<void> {
    const inFlight = this.#rechecks.get(meetingId);
    if (inFlight) return inFlight;
    const now = performance.now();
    const last = this.#lastRecheck.get(meetingId);
    if (last !== undefined && now - last < this.#config.ROSTER_RECHECK_MIN_INTERVAL_MS) {
      this.#metrics.rechecks.add(1, { outcome: 'skipped' });
      return Promise.resolve();
    }
    this.#lastRecheck.set(meetingId, now);
    const mark = this.#roster.mark();
    const p = this.#liveSessions(meetingId, this.#config.ROSTER_RECHECK_TIMEOUT_MS)
      .then((res) => {
        const { added, removed } = this.#roster.applySnapshot(res.sessions, mark, meetingId);
        this.#metrics.rechecks.add(1, { outcome: added > 0 ? 'found' : 'unchanged' });
        if (added > 0 || removed > 0) this.#logger.debug({ meetingId, added, removed }, 'meeting roster re-read');
      })
      .catch((err: unknown) => {
        // Decide on what this replica knows: a participant service that does not answer
        // cannot have let anyone join either.
        this.#metrics.rechecks.add(1, { outcome: 'error' });
        this.#logger.warn({ err, meetingId }, 'could not re-read the meeting roster');
      })
      .finally(() => this.#rechecks.delete(meetingId));
    this.#rechecks.set(meetingId, p);
    return p;
  }

  /** Forgets expired tombstones and old re-check times (every minute). */
  sweep(): void {
    this.#roster.sweep();
    const horizon = performance.now() - this.#config.ROSTER_RECHECK_MIN_INTERVAL_MS;
    for (const [meetingId, at] of this.#lastRecheck) if (at < horizon) this.#lastRecheck.delete(meetingId);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
  }

  #liveSessions(meetingId: string, timeoutMs: number) {
    return this.#participants.liveSessions({ meetingId }, { timeoutMs });
  }

  #later(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }
}
