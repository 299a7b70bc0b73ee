import { fromZero, type Meter } from '@lessoncall/kit';

export type MediaMetrics = ReturnType<typeof createMediaMetrics>;

export function createMediaMetrics(meter: Meter) {
  return {
    roomsCreated: meter.createCounter<{ reason: string }>('media_rooms_created_total', {
      description: 'VideoRooms created on a Janus node, by reason (first_join, node_failed)',
    }),
    roomsClosed: fromZero(meter.createCounter('media_rooms_closed_total', { description: 'VideoRooms destroyed because their meeting ended' })),
    accessIssued: fromZero(
      meter.createCounter('media_access_issued_total', { description: 'Room accesses (join token + signed Janus token) handed to a session' }),
    ),
    tokensRevoked: fromZero(meter.createCounter('media_tokens_revoked_total', { description: 'Join tokens taken off a room because their session left' })),
    nodeAlive: meter.createGauge<{ node: string }>('media_janus_node_alive', { description: '1 while a Janus node answers its probes, 0 once it is dead' }),
    nodeLoad: meter.createGauge<{ node: string }>('media_janus_node_participants', {
      description: 'Participants in the rooms of a Janus node at its last probe',
    }),
    deadLetters: meter.createCounter<{ subject: string; reason: string }>('media_dead_letters_total', {
      description: 'Events parked in the DEADLETTER stream, by type and reason',
    }),
    recordings: meter.createCounter<{ outcome: string }>('media_recordings_total', {
      description: 'Recordings processed after their meeting, by outcome (ready, failed)',
    }),
  };
}
