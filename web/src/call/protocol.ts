/**
 * The WebSocket contract (proto/lessoncall/v1/ws.proto) in its proto3 JSON form. Encoding and
 * decoding go through the generated schemas, so the client speaks exactly what the gateway
 * parses, and the rest of the app sees plain view objects (dates, booleans), never wire types.
 */
import { create, fromJson, type JsonValue, type MessageInitShape, toJson } from '@bufbuild/protobuf';
import { type Timestamp, timestampDate } from '@bufbuild/protobuf/wkt';
import {
  ClientMessageSchema,
  type Meeting,
  MeetingSchema,
  type MuteChanged,
  type Participant,
  ParticipantSchema,
  type ServerMessage,
  ServerMessageSchema,
  type IceServer,
  type Signal,
  type SignalSchema,
} from '@lessoncall/proto';

export type ClientMessageInit = MessageInitShape<typeof ClientMessageSchema>;
/** What a hello carries (ws.proto Hello), as the client fills it in. */
export interface HelloFields {
  accessToken: string;
  meetingId: string;
  passcode: string;
  displayName: string;
  audioMuted?: boolean;
  cameraOff?: boolean;
  resumeSessionId?: string;
  resumeToken?: string;
}
export type SignalInit = MessageInitShape<typeof SignalSchema>;
export type { ServerMessage, Signal, MuteChanged };

export function encodeClientMessage(init: ClientMessageInit): string {
  return JSON.stringify(toJson(ClientMessageSchema, create(ClientMessageSchema, init)));
}

/** Throws on anything that is not a ServerMessage; unknown fields are tolerated (newer gateways). */
export function decodeServerMessage(text: string): ServerMessage {
  return fromJson(ServerMessageSchema, JSON.parse(text) as JsonValue, { ignoreUnknownFields: true });
}

export type UserType = 'tutor' | 'student';

export interface MeetingView {
  meetingId: string;
  title: string;
  tutorId: string;
  studentId: string;
  tutorName: string;
  studentName: string;
  /** pending | active | completed | cancelled */
  status: string;
  scheduledStart: Date | undefined;
  scheduledEnd: Date | undefined;
  joinableFrom: Date | undefined;
  joinableUntil: Date | undefined;
  /** p2p (the mesh) | sfu (the Janus room: a group, or a recorded lesson). */
  mediaMode: string;
  /** The lesson is recorded: every participant is told before joining and while in it. */
  record: boolean;
}

export interface ParticipantView {
  sessionId: string;
  userId: string;
  userType: UserType;
  displayName: string;
  audioMuted: boolean;
  cameraOff: boolean;
  /** False while the socket is gone but the presence grace period has not passed. */
  connected: boolean;
  joinedAt: Date | undefined;
}

const date = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);

export function meetingView(m: Meeting): MeetingView {
  return {
    meetingId: m.meetingId,
    title: m.title,
    tutorId: m.tutorId,
    studentId: m.studentId,
    tutorName: m.tutorName,
    studentName: m.studentName,
    status: m.status,
    scheduledStart: date(m.scheduledStart),
    scheduledEnd: date(m.scheduledEnd),
    joinableFrom: date(m.joinableFrom),
    joinableUntil: date(m.joinableUntil),
    mediaMode: m.mediaMode || 'p2p',
    record: m.record,
  };
}

export function participantView(p: Participant): ParticipantView {
  return {
    sessionId: p.sessionId,
    userId: p.userId,
    userType: p.userType === 'tutor' ? 'tutor' : 'student',
    displayName: p.displayName || (p.userType === 'tutor' ? 'Tutor' : 'Student'),
    audioMuted: p.isMuted,
    cameraOff: p.cameraOff,
    connected: p.connected,
    joinedAt: date(p.joinedAt),
  };
}

/** REST bodies are the same messages in proto3 JSON. */
export function parseMeetingJson(json: unknown): MeetingView {
  return meetingView(fromJson(MeetingSchema, json as JsonValue, { ignoreUnknownFields: true }));
}

export function parseParticipantJson(json: unknown): ParticipantView {
  return participantView(fromJson(ParticipantSchema, json as JsonValue, { ignoreUnknownFields: true }));
}

export function rtcIceServers(servers: readonly IceServer[]): RTCIceServer[] {
  return servers.map((s) => ({
    urls: [...s.urls],
    ...(s.username ? { username: s.username } : {}),
    ...(s.credential ? { credential: s.credential } : {}),
  }));
}
