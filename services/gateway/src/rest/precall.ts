import { type Clock, type Runtime, ServiceError } from '@lessoncall/kit';
import { TurnCredentialsResponseSchema } from '@lessoncall/proto';
import { z } from 'zod';
import type { GatewayConfig } from '../config';
import { ref } from '../openapi/jsonschema';
import { actor, json, meetingIdOf, meetingIdParam } from './meetings';
import { serviceClients } from '../services';
import { type RateDecision, restRateLimiter } from './ratelimit';
import { type AnyRoute, defineRoute } from './route';

const precallBody = z.strictObject({ passcode: z.string().min(1, 'is required').max(32) });

/**
 * `POST /api/video/meetings/:id/precall`: TURN credentials for the lobby's connection check,
 * before Join (the call's own come with the WebSocket welcome, after it).
 *
 * Per meeting, for its tutor or student with its passcode — the same bar as reading the
 * meeting in the lobby, which has both already — so a relay credential is never handed to
 * every signed-in user of the booking platform. The passcode is checked by svc.meeting.get
 * with the join's lockout counter, so this is no second way to guess it. The join window is
 * not required: testing the connection an hour before the lesson is the point. Credentials
 * live TURN_PRECALL_TTL_SECONDS (turn service, default 5 min), and each user and each address
 * may ask PRECALL_RATE_PER_USER / PRECALL_RATE_PER_ADDRESS times a minute.
 */
export function precallRoutes(config: GatewayConfig, runtime: Runtime, clock: Clock): AnyRoute[] {
  // The REST limiter's bucket; keys of their own below.
  const perUser = restRateLimiter(config, runtime, clock, config.PRECALL_RATE_PER_USER);
  const perAddress = restRateLimiter(config, runtime, clock, config.PRECALL_RATE_PER_ADDRESS);
  const refuse = (d: RateDecision, who: string) => {
    if (!d.allowed)
      throw new ServiceError('rate_limited', `more than ${d.limit} connection checks per minute from this ${who}`, { retryAfterSeconds: d.resetSeconds });
  };
  const services = serviceClients(runtime.nc, config.REQUEST_TIMEOUT_MS);

  return [
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/precall',
      operationId: 'precallIceServers',
      summary: 'Short-lived TURN credentials for the lobby’s connection check (before Join)',
      description:
        "For the meeting's tutor or student with its passcode (wrong ones count towards the lockout, as for joining); the join window is not required. TURN URLs only, one per transport the relay offers; they expire after `ttlSeconds` (a few minutes). Limited per user and per address (429).",
      tags: ['participants'],
      access: 'user',
      params: meetingIdParam,
      body: precallBody,
      responses: { 200: { description: 'TURN servers with a credential that expires soon', schema: ref('TurnCredentialsResponse') } },
      problems: [404, 409, 423],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        refuse(await perAddress.take(`precall:addr:${c.clientKey}`), 'address');
        refuse(await perUser.take(`precall:user:${who.userId}`), 'user');
        const got = await services.meetings.getMeeting({ meetingId, userId: who.userId, passcode: c.body.passcode, clientKey: c.clientKey });
        const status = got.meeting?.status;
        if (status === 'cancelled') throw new ServiceError('meeting_cancelled', 'the lesson was cancelled', { meetingId });
        if (status === 'completed') throw new ServiceError('meeting_ended', 'the lesson has ended', { meetingId });
        const res = await services.turn.precallCredentials({ meetingId, userId: who.userId });
        c.req.log.info({ meetingId, ttlSeconds: res.ttlSeconds }, 'precall TURN credentials issued');
        return { body: json(TurnCredentialsResponseSchema, res) };
      },
    }),
  ];
}
