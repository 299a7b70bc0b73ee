import { client, type NatsConnection } from '@lessoncall/kit';
import { MediaService, MeetingService, ParticipantService, TurnService } from '@lessoncall/proto';

/** Callers of every service the gateway routes to, each request bounded by `timeoutMs` (REQUEST_TIMEOUT_MS). */
export function serviceClients(nc: NatsConnection, timeoutMs: number) {
  const options = { timeoutMs };
  return {
    meetings: client(nc, MeetingService, options),
    participants: client(nc, ParticipantService, options),
    media: client(nc, MediaService, options),
    turn: client(nc, TurnService, options),
  };
}

export type ServiceClients = ReturnType<typeof serviceClients>;
