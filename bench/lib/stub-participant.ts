import { randomBytes } from 'node:crypto';
import { createLogger, type NatsConnection, type RunningService, servePartial } from '@lessoncall/kit';
import { generateSessionId, ParticipantService } from '@lessoncall/proto';

/**
 * Answers svc.participant.join and svc.participant.presence without a database, in the shape
 * the participant service does: for a benchmark of the gateway's own capacity, where the real
 * service's join rate would be what is measured instead.
 */
export function stubParticipant(nc: NatsConnection): Promise<RunningService> {
  const logger = createLogger('stub-participant', { level: 'warn' });
  return servePartial(
    nc,
    ParticipantService,
    {
      join: async (req) => {
        const sessionId = generateSessionId();
        const self = { sessionId, meetingId: req.meetingId, userId: req.userId, userType: 'student', displayName: req.displayName, connected: true };
        return {
          sessionId,
          resumeToken: randomBytes(24).toString('base64url'),
          userType: 'student',
          meeting: { meetingId: req.meetingId, status: 'active' },
          participants: [self],
          iceServers: [{ urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1700000000:bench', credential: 'x'.repeat(28) }],
          iceTtlSeconds: 3600,
          resumed: false,
        };
      },
      presence: async () => ({ live: true }),
    },
    { logger },
  );
}
