/**
 * The gateway's REST API, as the web app uses it. Errors come back as RFC 9457 problem+json
 * with a stable `code`; they become GatewayErrors. A request that gets no answer at all is
 * `unavailable`.
 */
import { create, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { type LessonRecord, LessonRecordSchema, RecordResponseSchema } from '@lessoncall/proto';
import { newTraceparent } from './trace';
import { GatewayError } from './errors';
import type { JoinReport } from './join-report';
import { type MeetingView, type ParticipantView, parseMeetingJson, parseParticipantJson } from './protocol';

export interface MeetingDetails {
  meeting: MeetingView;
  participants: ParticipantView[];
}

export interface DemoUser {
  as: 'tutor' | 'student';
  userId: string;
  name: string;
}

export interface DevConfig {
  devIssuer: boolean;
  demoUsers: DemoUser[];
}

export interface DevToken {
  accessToken: string;
  userId: string;
  /** ms since epoch */
  expiresAt: number;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class GatewayApi {
  constructor(
    /** '' = same origin (the gateway serves the app; Vite proxies /api in dev). */
    private readonly baseUrl = '',
    private readonly fetchImpl: FetchLike = (input, init) => globalThis.fetch(input, init),
    private readonly traceparent: () => string = newTraceparent,
  ) {}

  /**
   * ws(s)://<host>/api/video/ws?meeting=<id> for the page's origin. The meeting id in the URL
   * is a routing key only (the chart's ingress hashes it, so that both sides of a lesson reach
   * the same gateway and their signals never leave it); `hello` still says which meeting.
   */
  static webSocketUrl(meetingId: string, location: { protocol: string; host: string } = globalThis.location): string {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/video/ws?meeting=${encodeURIComponent(meetingId)}`;
  }

  async getMeeting(meetingId: string, passcode: string, accessToken: string): Promise<MeetingDetails> {
    const body = await this.call('GET', `/api/video/meetings/${encodeURIComponent(meetingId)}`, {
      headers: { authorization: `Bearer ${accessToken}`, 'x-meeting-passcode': passcode },
    });
    const obj = (body ?? {}) as { meeting?: unknown; participants?: unknown[] };
    return {
      meeting: parseMeetingJson(obj.meeting ?? obj),
      participants: Array.isArray(obj.participants) ? obj.participants.map(parseParticipantJson) : [],
    };
  }

  /**
   * TURN servers for the lobby's connection check, before Join (the call's come with the
   * welcome): the meeting's passcode is needed, the join window is not; they expire in minutes.
   */
  async precallIceServers(meetingId: string, passcode: string, accessToken: string): Promise<RTCIceServer[]> {
    const body = (await this.call('POST', `/api/video/meetings/${encodeURIComponent(meetingId)}/precall`, {
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ passcode }),
    })) as { iceServers?: unknown } | undefined;
    return Array.isArray(body?.iceServers) ? body.iceServers.flatMap(iceServerOf) : [];
  }

  /** Ends the lesson for everyone (its tutor only); everyone in it gets meetingEnded. */
  async endMeeting(meetingId: string, accessToken: string): Promise<void> {
    await this.call('POST', `/api/video/meetings/${encodeURIComponent(meetingId)}/end`, { headers: { authorization: `Bearer ${accessToken}` } });
  }

  /** The lesson record (GET …/record): 409 `conflict` until the meeting has ended and the record is ready. */
  async getRecord(meetingId: string, accessToken: string): Promise<LessonRecord> {
    const body = await this.call('GET', `/api/video/meetings/${encodeURIComponent(meetingId)}/record`, { headers: { authorization: `Bearer ${accessToken}` } });
    return fromJson(RecordResponseSchema, (body ?? {}) as JsonValue, { ignoreUnknownFields: true }).record ?? create(LessonRecordSchema, { meetingId });
  }

  /** The join's outcome for the service levels; keepalive, so it is sent even as the page unloads. */
  async reportJoin(meetingId: string, report: JoinReport, accessToken: string): Promise<void> {
    await this.call('POST', `/api/video/meetings/${encodeURIComponent(meetingId)}/client-report`, {
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(report),
      keepalive: true,
    });
  }

  /**
   * Signs the token out at the gateway (POST /api/video/sign-out): from now on every gateway
   * refuses it (`global`: every token of this user; `local`: this sign-in's) and closes the
   * sockets opened with it. Keepalive: the page may be navigating away.
   */
  async signOut(accessToken: string, scope: 'global' | 'local'): Promise<void> {
    await this.call('POST', '/api/video/sign-out', {
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope }),
      keepalive: true,
    });
  }

  /** The local dev issuer's settings, or undefined when it is off (404). */
  async devConfig(): Promise<DevConfig | undefined> {
    try {
      const body = (await this.call('GET', '/api/dev/config')) as { devIssuer?: boolean; demoUsers?: unknown[] } | undefined;
      if (!body?.devIssuer) return undefined;
      return { devIssuer: true, demoUsers: Array.isArray(body.demoUsers) ? body.demoUsers.flatMap(demoUser) : [] };
    } catch (err) {
      if (err instanceof GatewayError && (err.status === 404 || err.code === 'not_found')) return undefined;
      throw err;
    }
  }

  async devToken(as: 'tutor' | 'student'): Promise<DevToken> {
    const body = (await this.call('POST', '/api/dev/token', { body: JSON.stringify({ as }), headers: { 'content-type': 'application/json' } })) as {
      accessToken: string;
      userId: string;
      expiresAt: string | number;
    };
    const expiresAt = typeof body.expiresAt === 'number' ? (body.expiresAt < 1e12 ? body.expiresAt * 1000 : body.expiresAt) : Date.parse(body.expiresAt);
    return { accessToken: body.accessToken, userId: body.userId, expiresAt: Number.isFinite(expiresAt) ? expiresAt : Date.now() + 3_600_000 };
  }

  private async call(method: string, path: string, init: { headers?: Record<string, string>; body?: string; keepalive?: boolean } = {}): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        // Each request starts a trace the gateway continues (services, Postgres, events).
        headers: { accept: 'application/json', traceparent: this.traceparent(), ...init.headers },
        ...(init.body ? { body: init.body } : {}),
        ...(init.keepalive ? { keepalive: true } : {}),
      });
    } catch (err) {
      throw new GatewayError('unavailable', 'the lesson server did not answer', {}, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.ok) return body;
    throw problemToError(res.status, body, res.headers.get('retry-after'));
  }
}

function iceServerOf(s: unknown): RTCIceServer[] {
  const o = (typeof s === 'object' && s ? s : {}) as Record<string, unknown>;
  const urls = Array.isArray(o.urls) ? o.urls.filter((u): u is string => typeof u === 'string') : [];
  if (urls.length === 0) return [];
  return [
    {
      urls,
      ...(typeof o.username === 'string' && o.username ? { username: o.username } : {}),
      ...(typeof o.credential === 'string' && o.credential ? { credential: o.credential } : {}),
    },
  ];
}

/** A demo user as the gateway lists it ({userId, displayName, userType}; older builds said {as, name}). */
function demoUser(u: unknown): DemoUser[] {
  const o = (typeof u === 'object' && u ? u : {}) as Record<string, unknown>;
  const as = o.as ?? o.userType;
  if (as !== 'tutor' && as !== 'student') return [];
  const name = typeof o.name === 'string' ? o.name : typeof o.displayName === 'string' ? o.displayName : as === 'tutor' ? 'Demo Tutor' : 'Demo Student';
  return [{ as, userId: typeof o.userId === 'string' ? o.userId : '', name }];
}

/** RFC 9457 problem details → GatewayError. */
export function problemToError(status: number, body: unknown, retryAfterHeader?: string | null): GatewayError {
  const p = (typeof body === 'object' && body ? body : {}) as Record<string, unknown>;
  const code =
    typeof p.code === 'string' && p.code
      ? p.code
      : status === 404
        ? 'not_found'
        : status === 401
          ? 'unauthenticated'
          : status === 403
            ? 'forbidden'
            : status === 429
              ? 'rate_limited'
              : status >= 500
                ? 'unavailable'
                : 'invalid_request';
  const header = retryAfterHeader ? Number(retryAfterHeader) : undefined;
  const retryAfterSeconds = typeof p.retryAfterSeconds === 'number' ? p.retryAfterSeconds : Number.isFinite(header) ? header : undefined;
  const message = typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : `HTTP ${status}`;
  return new GatewayError(code, message, {
    status,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    ...(typeof p.attemptsLeft === 'number' ? { attemptsLeft: p.attemptsLeft } : {}),
    ...(typeof p.field === 'string' ? { field: p.field } : {}),
  });
}
