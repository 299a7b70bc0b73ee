import { Counter, Gauge, type Registry } from '@lessoncall/kit';

export type MediaMetrics = ReturnType<typeof createMediaMetrics>;

export function createMediaMetrics(registry: Registry) {
  const registers = [registry];
  return {
    roomsCreated: new Counter({
      name: 'media_rooms_created_total',
      help: 'VideoRooms created on a Janus node, by reason (first_join, node_failed)',
      labelNames: ['reason'] as const,
      registers,
    }),
    roomsClosed: new Counter({ name: 'media_rooms_closed_total', help: 'VideoRooms destroyed because their meeting ended', registers }),
    accessIssued: new Counter({ name: 'media_access_issued_total', help: 'Room accesses (join token + signed Janus token) handed to a session', registers }),
    tokensRevoked: new Counter({ name: 'media_tokens_revoked_total', help: 'Join tokens taken off a room because their session left', registers }),
    nodeAlive: new Gauge({
      name: 'media_janus_node_alive',
      help: '1 while a Janus node answers its probes, 0 once it is dead',
      labelNames: ['node'] as const,
      registers,
    }),
    nodeLoad: new Gauge({
      name: 'media_janus_node_participants',
      help: 'Participants in the rooms of a Janus node at its last probe',
      labelNames: ['node'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'media_dead_letters_total',
      help: 'Events parked in the DEADLETTER stream, by type and reason',
      labelNames: ['subject', 'reason'] as const,
      registers,
    }),
    recordings: new Counter({
      name: 'media_recordings_total',
      help: 'Recordings processed after their meeting, by outcome (ready, failed)',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}
