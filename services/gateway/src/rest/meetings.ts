import { type DescMessage, type MessageShape, toJson } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Runtime, ServiceError } from '@lessoncall/kit';
import {
  AttendanceResponseSchema,
  ChatHistoryResponseSchema,
  RecordingLinkResponseSchema,
  RecordResponseSchema,
  CreateMeetingResponseSchema,
  EndMeetingResponseSchema,
  FindMeetingByBookingResponseSchema,
  GetMeetingResponseSchema,
  isValidJoinKey,
  isValidMeetingId,
  JoinResponseSchema,
  LeaveResponseSchema,
  ListParticipantsResponseSchema,
  MeetingSchema,
  MuteResponseSchema,
  ParticipantSchema,
  TurnCredentialsResponseSchema,
} from '@lessoncall/proto';
import { z } from 'zod';
import type { Identity } from '../auth/index';
import type { GatewayConfig } from '../config';
import { type JsonSchema, protoJsonSchemas, ref } from '../openapi/jsonschema';
import { type AnyRoute, type Call, defineRoute } from './route';
import { serviceClients } from '../services';

/** The proto messages REST answers carry, documented from their descriptors. */
export const restMessages: DescMessage[] = [
  MeetingSchema,
  ParticipantSchema,
  CreateMeetingResponseSchema,
  GetMeetingResponseSchema,
  FindMeetingByBookingResponseSchema,
  EndMeetingResponseSchema,
  JoinResponseSchema,
  LeaveResponseSchema,
  MuteResponseSchema,
  ListParticipantsResponseSchema,
  AttendanceResponseSchema,
  ChatHistoryResponseSchema,
  RecordResponseSchema,
  // The lobby's connection check (rest/precall.ts).
  TurnCredentialsResponseSchema,
  // The recording's signed link (rest/recordings.ts).
  RecordingLinkResponseSchema,
];

const joinResponse = protoJsonSchemas([JoinResponseSchema]).JoinResponse as { properties: Record<string, JsonSchema>; required: string[] };

/** REST answers that combine proto messages. */
export const restSchemas: Record<string, JsonSchema> = {
  // The seed's guide (what booking-platform clients were written against) names the ICE
  // servers `turn_servers`: the join answer carries them under both names.
  JoinedMeeting: {
    ...joinResponse,
    description: 'JoinResponse, with `turn_servers` repeating `iceServers` for clients written against the seed guide.',
    properties: {
      ...joinResponse.properties,
      turn_servers: { type: 'array', items: ref('IceServer'), description: 'The same list as `iceServers` (the name the seed guide uses).' },
    },
    required: [...joinResponse.required, 'turn_servers'],
  },
  MeetingDetails: {
    type: 'object',
    properties: { meeting: ref('Meeting'), participants: { type: 'array', items: ref('Participant') } },
    required: ['meeting', 'participants'],
    additionalProperties: false,
  },
  CreatedMeeting: {
    type: 'object',
    description: 'The new (201) or existing (200) meeting of the booking, with its passcode and link.',
    properties: {
      meetingId: { type: 'string', pattern: '^MID-[A-Z0-9]{16}$' },
      passcode: { type: 'string', pattern: '^[0-9]{6}$' },
      url: { type: 'string', format: 'uri' },
      created: { type: 'boolean' },
      meeting: ref('Meeting'),
    },
    required: ['meetingId', 'passcode', 'url', 'created', 'meeting'],
    additionalProperties: false,
  },
};

export const meetingIdParam: Record<string, JsonSchema> = { meetingId: { type: 'string', pattern: '^MID-[A-Z0-9]{16}$' } };

const uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a user id (uuid)');
const passcode = z.string().min(1, 'is required').max(32);
const sessionId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be a session id');
const name = z.string().max(200);

const createBody = z.strictObject({
  bookingId: z.string().min(1).max(128),
  tutorId: uuid,
  /** The (first) student; optional when studentIds lists a group. */
  studentId: uuid.optional(),
  /** A group lesson: every student (the meeting service holds the limit, 25 by default). */
  studentIds: z.array(uuid).min(1).max(100).optional(),
  /** Record the lesson (it then runs on the SFU; every participant is told before joining). */
  record: z.boolean().optional(),
  scheduledStart: z.iso.datetime({ offset: true }),
  scheduledEnd: z.iso.datetime({ offset: true }),
  title: name.optional(),
  tutorName: name.optional(),
  studentName: name.optional(),
});

const joinBody = z.strictObject({
  passcode,
  userType: z.enum(['tutor', 'student']).optional(),
  sessionId: sessionId.optional(),
  resumeToken: z.string().min(1).max(512).optional(),
  displayName: name.optional(),
  audioMuted: z.boolean().optional(),
  cameraOff: z.boolean().optional(),
});

const leaveBody = z.strictObject({ sessionId });

const muteBody = z.strictObject({
  /** The caller's own session (the acting one); the target defaults to it. */
  sessionId: sessionId.optional(),
  /** Host control: the user whose sessions to mute. */
  userId: uuid.optional(),
  /** Host control: one session of another user. */
  targetSessionId: sessionId.optional(),
  isMuted: z.boolean(),
  kind: z.enum(['audio', 'video']).default('audio'),
});

const byBookingQuery = z.object({ bookingId: z.string().min(1).max(128) });
const getMeetingQuery = z.object({ passcode: z.string().max(32).optional() });
const participantsQuery = z.object({ includeLeft: z.enum(['true', 'false']).optional() });

export function json<D extends DescMessage>(schema: D, message: MessageShape<D>): unknown {
  return toJson(schema, message, { alwaysEmitImplicit: true });
}

export function meetingIdOf(call: Call<unknown, unknown>): string {
  const id = call.params.meetingId ?? '';
  if (!isValidMeetingId(id)) throw new ServiceError('meeting_not_found', `no meeting ${JSON.stringify(id)}`, { meetingId: id });
  return id;
}

export function actor(call: Call<unknown, unknown>): Identity {
  if (!call.identity) throw new ServiceError('unauthenticated', 'an access token is required');
  return call.identity;
}

/** The Idempotency-Key header of a join: absent is no key, anything but one key is refused before a session exists. */
function joinKeyOf(header: string | string[] | undefined): string {
  if (header === undefined) return '';
  if (!isValidJoinKey(header))
    throw new ServiceError('invalid_request', 'Idempotency-Key must be one key of 1 to 128 visible ASCII characters', { field: 'Idempotency-Key' });
  return header;
}

function displayNameOf(identity: Identity): string {
  const metadata = identity.claims.user_metadata as Record<string, unknown> | undefined;
  const fromToken = metadata?.full_name ?? metadata?.name;
  return typeof fromToken === 'string' ? fromToken.slice(0, 200) : '';
}

/** The meeting and participant endpoints: each validates, asks its service over NATS, and answers its proto JSON. */
export function meetingRoutes(config: GatewayConfig, runtime: Runtime): AnyRoute[] {
  const services = serviceClients(runtime.nc, config.REQUEST_TIMEOUT_MS);

  return [
    defineRoute({
      method: 'post',
      path: '/api/video/meetings',
      operationId: 'createMeeting',
      summary: 'Create the meeting of a booking (idempotent on bookingId)',
      description:
        "For the booking system's service credential, or the booking's tutor. 201 when created, 200 with the same answer when the booking already has one.",
      tags: ['meetings'],
      access: 'user_or_service',
      body: createBody,
      responses: {
        201: { description: 'Created', schema: ref('CreatedMeeting'), headers: ['Location'] },
        200: { description: 'The booking already had this meeting', schema: ref('CreatedMeeting') },
      },
      problems: [409],
      async handler(c) {
        const who = actor(c);
        const b = c.body;
        const start = new Date(b.scheduledStart);
        const end = new Date(b.scheduledEnd);
        if (end <= start) throw new ServiceError('invalid_request', 'scheduledEnd must be after scheduledStart', { field: 'scheduledEnd' });
        const isService = who.role === 'booking_system';
        if (!isService && b.tutorId.toLowerCase() !== who.userId)
          throw new ServiceError('forbidden', "only the booking's tutor or the booking system may create its meeting");
        const res = await services.meetings.createMeeting({
          bookingId: b.bookingId,
          tutorId: b.tutorId.toLowerCase(),
          studentId: b.studentId?.toLowerCase() ?? '',
          studentIds: (b.studentIds ?? []).map((s) => s.toLowerCase()),
          record: b.record ?? false,
          scheduledStart: timestampFromDate(start),
          scheduledEnd: timestampFromDate(end),
          title: b.title ?? '',
          tutorName: b.tutorName ?? '',
          studentName: b.studentName ?? '',
          actorUserId: isService ? '' : who.userId,
          actorIsService: isService,
        });
        const meeting = res.meeting;
        if (!meeting) throw new Error('svc.meeting.create answered without a meeting');
        return {
          status: res.created ? 201 : 200,
          headers: res.created ? { Location: `/api/video/meetings/${meeting.meetingId}` } : ({} as Record<string, string>),
          body: { meetingId: meeting.meetingId, passcode: res.passcode, url: res.url, created: res.created, meeting: json(MeetingSchema, meeting) },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings',
      operationId: 'findMeetingByBooking',
      summary: 'The meeting of a booking',
      description: "For the booking system's service credential, or the booking's tutor or student.",
      tags: ['meetings'],
      access: 'user_or_service',
      query: byBookingQuery,
      responses: { 200: { description: 'The meeting', schema: ref('FindMeetingByBookingResponse') } },
      problems: [400, 404],
      async handler(c) {
        const who = actor(c);
        const res = await services.meetings.findMeetingByBooking({
          bookingId: c.query.bookingId,
          userId: who.userId,
          actorIsService: who.role === 'booking_system',
        });
        return { body: json(FindMeetingByBookingResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId',
      operationId: 'getMeeting',
      summary: 'Meeting details and live participants',
      description:
        'For its tutor or student, with the passcode (X-Meeting-Passcode header, or ?passcode= as meeting links carry it). Wrong passcodes count towards the lockout.',
      tags: ['meetings'],
      access: 'user',
      params: meetingIdParam,
      query: getMeetingQuery,
      headers: [{ name: 'X-Meeting-Passcode', description: "The meeting's 6-digit passcode (or ?passcode=)" }],
      responses: { 200: { description: 'The meeting and its live participants', schema: ref('MeetingDetails') } },
      problems: [400, 404, 409, 423],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const header = c.req.headers['x-meeting-passcode'];
        const code = (typeof header === 'string' && header) || c.query.passcode;
        if (!code) throw new ServiceError('invalid_request', 'the passcode is required (X-Meeting-Passcode header or ?passcode=)', { field: 'passcode' });
        // Asked together to save a round trip; the list is only answered when the meeting check passed.
        const [meetingResult, listResult] = await Promise.allSettled([
          services.meetings.getMeeting({ meetingId, userId: who.userId, passcode: code, clientKey: c.clientKey }),
          services.participants.listParticipants({ meetingId, userId: who.userId }),
        ]);
        if (meetingResult.status === 'rejected') throw meetingResult.reason;
        if (listResult.status === 'rejected') throw listResult.reason;
        const got = meetingResult.value;
        const list = listResult.value;
        if (!got.meeting) throw new Error('svc.meeting.get answered without a meeting');
        return { body: { meeting: json(MeetingSchema, got.meeting), participants: list.participants.map((p) => json(ParticipantSchema, p)) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId/participants',
      operationId: 'listParticipants',
      summary: 'Participants with their mute and camera state',
      tags: ['participants'],
      access: 'user',
      params: meetingIdParam,
      query: participantsQuery,
      responses: { 200: { description: 'Live participants (and past sessions with includeLeft=true)', schema: ref('ListParticipantsResponse') } },
      problems: [400, 404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.listParticipants({ meetingId, userId: who.userId, includeLeft: c.query.includeLeft === 'true' });
        return { body: json(ListParticipantsResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/join',
      operationId: 'joinMeeting',
      summary: 'Join (or resume a session of) a meeting',
      description:
        "Needs the passcode and the join window. The user is the token's subject; userType, if given, must be the role the meeting gives that user. sessionId with resumeToken resumes a session. " +
        'With an Idempotency-Key, a join repeated with the same key (its answer lost to a timeout) answers the session the first one made instead of making a second; a key whose session has ended answers 409 `conflict`.',
      tags: ['participants'],
      access: 'user',
      params: meetingIdParam,
      headers: [{ name: 'Idempotency-Key', description: 'One key per join, the same on each retry of it: 1 to 128 visible ASCII characters (a UUID will do)' }],
      body: joinBody,
      responses: { 200: { description: 'The session, the ICE servers and who is in the meeting', schema: ref('JoinedMeeting') } },
      problems: [400, 404, 409, 423],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const b = c.body;
        if (b.userType) {
          // Checked before a session exists, so a mismatch leaves nothing behind.
          const verified = await services.meetings.verifyJoin({ meetingId, userId: who.userId, passcode: b.passcode, clientKey: c.clientKey });
          if (verified.userType !== b.userType) {
            throw new ServiceError('forbidden', `you are this meeting's ${verified.userType || 'guest'}, not its ${b.userType}`, {
              field: 'userType',
              meetingId,
            });
          }
        }
        const res = await services.participants.join({
          meetingId,
          userId: who.userId,
          joinKey: joinKeyOf(c.req.headers['idempotency-key']),
          passcode: b.passcode,
          clientKey: c.clientKey,
          displayName: b.displayName ?? displayNameOf(who),
          audioMuted: b.audioMuted ?? false,
          cameraOff: b.cameraOff ?? false,
          resumeSessionId: b.sessionId ?? '',
          resumeToken: b.resumeToken ?? '',
        });
        c.req.log.info({ meetingId, sessionId: res.sessionId, resumed: res.resumed }, 'joined');
        const body = json(JoinResponseSchema, res) as { iceServers: unknown };
        return { body: { ...body, turn_servers: body.iceServers } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/leave',
      operationId: 'leaveMeeting',
      summary: 'Leave: end one of your sessions',
      tags: ['participants'],
      access: 'user',
      params: meetingIdParam,
      body: leaveBody,
      responses: { 200: { description: 'The session as it ended', schema: ref('LeaveResponse') } },
      problems: [404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.leave({ meetingId, sessionId: c.body.sessionId, userId: who.userId });
        c.req.log.info({ meetingId, sessionId: c.body.sessionId }, 'left');
        return { body: json(LeaveResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/mute',
      operationId: 'muteParticipant',
      summary: 'Mute or unmute (audio), or turn a camera off or on (video)',
      description:
        'Your own session by default. The tutor may mute a student\'s audio or turn a student\'s camera off (`kind: "video"`, `isMuted: true`) by userId or targetSessionId, never the reverse: the student turns it back on (and is asked to unmute with `POST …/participants/:sessionId/ask-unmute`).',
      tags: ['participants'],
      access: 'user',
      params: meetingIdParam,
      body: muteBody,
      responses: { 200: { description: 'The participant state after the change', schema: ref('MuteResponse') } },
      problems: [404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const b = c.body;
        const res = await services.participants.mute({
          meetingId,
          userId: who.userId,
          sessionId: b.sessionId ?? '',
          targetSessionId: b.targetSessionId ?? '',
          targetUserId: b.userId?.toLowerCase() ?? '',
          kind: b.kind,
          muted: b.isMuted,
        });
        return { body: json(MuteResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/end',
      operationId: 'endMeeting',
      summary: 'End the meeting for everyone (its tutor)',
      tags: ['meetings'],
      access: 'user',
      params: meetingIdParam,
      responses: { 200: { description: 'The ended meeting', schema: ref('EndMeetingResponse') } },
      problems: [404, 409],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.meetings.endMeeting({ meetingId, userId: who.userId });
        c.req.log.info({ meetingId }, 'meeting ended');
        return { body: json(EndMeetingResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId/attendance',
      operationId: 'getAttendance',
      summary: 'Who attended, when and for how long',
      description: "For the booking system's service credential, or the meeting's tutor or student.",
      tags: ['meetings'],
      access: 'user_or_service',
      params: meetingIdParam,
      responses: { 200: { description: 'Attendance per user', schema: ref('AttendanceResponse') } },
      problems: [404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.attendance({
          meetingId,
          userId: who.role === 'booking_system' ? '' : who.userId,
          actorIsService: who.role === 'booking_system',
        });
        return { body: json(AttendanceResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId/chat',
      operationId: 'getChat',
      summary: "The meeting's chat transcript (its latest 500 messages, oldest first)",
      description: "For the meeting's tutor or student only; anyone else gets 404, as for a meeting that does not exist.",
      tags: ['meetings'],
      access: 'user',
      params: meetingIdParam,
      responses: { 200: { description: 'Chat messages, oldest first', schema: ref('ChatHistoryResponse') } },
      problems: [404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.chatHistory({ meetingId, userId: who.userId });
        return { body: json(ChatHistoryResponseSchema, res) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId/record',
      operationId: 'getLessonRecord',
      summary: 'The lesson record: attendance, chat transcript, the final whiteboard, call quality (once the meeting has ended)',
      description:
        "For the meeting's tutor or student only (404 for anyone else); 409 `conflict` while the meeting has not ended. The same record the booking platform gets as `meeting.record_ready.<meetingId>`. `boardImage` is the final whiteboard as an SVG document inline (`data`, image/svg+xml, rendered by the service from the stored board; no scripts or external references), absent when nobody drew; `quality` has one entry per participant whose client reported (median RTT, loss, share of time relayed), empty when none did.",
      tags: ['meetings'],
      access: 'user',
      params: meetingIdParam,
      responses: { 200: { description: 'The lesson record', schema: ref('RecordResponse') } },
      problems: [404, 409],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const res = await services.participants.record({ meetingId, userId: who.userId });
        return { body: json(RecordResponseSchema, res) };
      },
    }),
  ];
}
