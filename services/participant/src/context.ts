import type { Clock, Db, JetStreamClient, Logger, NatsConnection } from '@lessoncall/kit';
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
}
