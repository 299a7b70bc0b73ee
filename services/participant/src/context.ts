import type { Clock, Db, JetStreamClient, Logger, NatsConnection, Outbox, ServiceClient } from '@lessoncall/kit';
import type { MeetingService, TurnService } from '@lessoncall/proto';
import type { ParticipantConfig } from './config';
import type { ParticipantMetrics } from './metrics';

/** What the domain code of the service works with; built once by startParticipantService. */
export interface Context {
  config: ParticipantConfig;
  db: Db;
  nc: NatsConnection;
  js: JetStreamClient;
  logger: Logger;
  clock: Clock;
  metrics: ParticipantMetrics;
  /** Where every event of a change is written, in the change's transaction (events.ts). */
  outbox: Outbox;
  /** The meeting service (verify_join, describe), MEETING_TIMEOUT_MS per request. */
  meetings: ServiceClient<typeof MeetingService>;
  /** The turn service, TURN_TIMEOUT_MS per request. */
  turn: ServiceClient<typeof TurnService>;
}
