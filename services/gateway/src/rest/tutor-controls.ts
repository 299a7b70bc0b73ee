import type { DescMessage } from '@bufbuild/protobuf';
import type { Runtime } from '@lessoncall/kit';
import { AllowRejoinResponseSchema, AskUnmuteResponseSchema, RemovalsResponseSchema, RemoveResponseSchema } from '@lessoncall/proto';
import type { GatewayConfig } from '../config';
import { type JsonSchema, ref } from '../openapi/jsonschema';
import { actor, json, meetingIdOf, meetingIdParam } from './meetings';
import { serviceClients } from '../services';
import { type AnyRoute, defineRoute } from './route';

/** The proto messages these routes answer, documented from their descriptors. */
export const tutorControlMessages: DescMessage[] = [RemoveResponseSchema, AskUnmuteResponseSchema, AllowRejoinResponseSchema, RemovalsResponseSchema];

const sessionParam: Record<string, JsonSchema> = { ...meetingIdParam, sessionId: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' } };
const userParam: Record<string, JsonSchema> = { ...meetingIdParam, userId: { type: 'string', format: 'uuid' } };

const tutorOnly = "The meeting's tutor only: its student gets 403 `not_tutor`, anyone else 404 `meeting_not_found` (as for a meeting that does not exist).";

/**
 * The tutor's controls over a lesson's other participants, as REST (the WebSocket carries the
 * same: removeParticipant, askUnmute, allowRejoin). The participant service decides; turning a
 * student's camera off is `POST …/mute` with `kind: "video"` and a target.
 */
export function tutorControlRoutes(config: GatewayConfig, runtime: Runtime): AnyRoute[] {
  const services = serviceClients(runtime.nc, config.REQUEST_TIMEOUT_MS);
  return [
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/participants/:sessionId/remove',
      operationId: 'removeParticipant',
      summary: 'Remove a participant from the lesson (the tutor)',
      description: `Closes every live session of that session's user with reason \`removed\` (\`participant.left\` with \`removedByUserId\`; the removed client is told why and its socket closes with 4403) and refuses that user's joins and resumes with 403 \`removed_from_meeting\` until the tutor allows them again (\`POST …/removals/:userId/allow\`). Repeating it is harmless: nothing more is closed. ${tutorOnly} The tutor's own sessions cannot be removed (400).`,
      tags: ['tutor controls'],
      access: 'user',
      params: sessionParam,
      responses: { 200: { description: 'Who was removed and the sessions this call closed', schema: ref('RemoveResponse') } },
      problems: [400, 404, 409],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.remove({ meetingId, userId: who.userId, targetSessionId: c.params.sessionId ?? '' });
        c.req.log.info({ meetingId, sessionId: c.params.sessionId, removedUserId: res.removedUserId }, 'participant removed');
        return { body: json(RemoveResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId/removals',
      operationId: 'listRemovals',
      summary: 'Who is removed from the lesson and not allowed back yet',
      description: "For the meeting's tutor or student only; anyone else gets 404, as for a meeting that does not exist.",
      tags: ['tutor controls'],
      access: 'user',
      params: meetingIdParam,
      responses: { 200: { description: 'The removals in force, oldest first', schema: ref('RemovalsResponse') } },
      problems: [404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.removals({ meetingId, userId: who.userId });
        return { body: json(RemovalsResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/removals/:userId/allow',
      operationId: 'allowRejoin',
      summary: 'Let a removed participant join the lesson again (the tutor)',
      description: `Lifts the removal: the user's next join is decided as any other (a removed session itself stays closed). \`wasRemoved\` is false when there was nothing to lift. ${tutorOnly}`,
      tags: ['tutor controls'],
      access: 'user',
      params: userParam,
      responses: { 200: { description: 'Whether a removal was lifted', schema: ref('AllowRejoinResponse') } },
      problems: [400, 404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.allowRejoin({ meetingId, userId: who.userId, targetUserId: (c.params.userId ?? '').toLowerCase() });
        return { body: json(AllowRejoinResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/participants/:sessionId/ask-unmute',
      operationId: 'askToUnmute',
      summary: 'Ask a muted student to unmute (the tutor)',
      description: `A prompt on that session's screen ("The tutor asks you to unmute", Unmute / Not now), never a forced unmute. At most one per session every UNMUTE_ASK_INTERVAL_SECONDS (429 \`rate_limited\` with Retry-After); 409 \`conflict\` when the session is not muted. ${tutorOnly}`,
      tags: ['tutor controls'],
      access: 'user',
      params: sessionParam,
      responses: { 200: { description: 'The ask as delivered', schema: ref('AskUnmuteResponse') } },
      problems: [400, 404, 409],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.askUnmute({ meetingId, userId: who.userId, targetSessionId: c.params.sessionId ?? '' });
        return { body: json(AskUnmuteResponseSchema, res) };
      },
    }),
  ];
}
