/**
 * Hostile input against the running drill stack: fuzzed REST requests and WebSocket frames
 * (fast-check), malformed CloudEvents on booking.confirmed, forged and oversized JWTs, and
 * passcode guessing from many client addresses at once. Expected of every case: no process
 * exits, the answer is a typed error with a stable code, a metric counts it, and nothing is
 * written that should not be.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { bookingConfirmed, bookingSystemSource } from '@lessoncall/booking-system';
import { cloudEventHeaders, errorCodeNames, toJson } from '@lessoncall/kit';
import { metricValue } from '@lessoncall/kit/testing';
import { BookingConfirmedSchema, streams } from '@lessoncall/proto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import type { BenchMeeting } from '../lib/meetings';
import { type Load, sleep } from './load';
import type { DrillStack } from './stack';

export interface HostileResult {
  cases: number;
  byFamily: Record<string, number>;
  problems: string[];
  bookingsWritten: number;
  sessionsWritten: number;
  deadLettered: number;
  metrics: Record<string, number>;
}

const known = new Set<string>(errorCodeNames);

async function scrape(urls: string[], name: string, labels: Record<string, string | RegExp> = {}): Promise<number> {
  const pages = await Promise.all(
    urls.map((u) =>
      fetch(`${u}/metrics`).then(
        (r) => r.text(),
        () => '',
      ),
    ),
  );
  return pages.reduce((a, p) => a + metricValue(p, name, labels), 0);
}

export async function runHostile(s: DrillStack, load: Load, options: { short: boolean }): Promise<HostileResult> {
  const problems: string[] = [];
  const byFamily: Record<string, number> = {};
  const count = (family: string) => {
    byFamily[family] = (byFamily[family] ?? 0) + 1;
  };
  const gateways = s.gateways.map((g) => g.baseUrl);
  const gatewayMetrics = s.gateways.map((g) => g.metricsUrl);
  const meetingUrls = s.of('meeting').map((r) => r.metricsUrl);
  const db = s.h.db;
  if (!db) throw new Error('no database');
  const runs = options.short ? 40 : 200;
  // Meetings of its own, so no lesson of the load joins them: any session row on them was written by hostile input.
  const target: BenchMeeting = await load.takeMeeting();
  const locked: BenchMeeting = await load.takeMeeting();
  const tutorToken = await s.token(target.tutorId);
  const strangerToken = await s.token(randomUUID());
  const foreignMeetings = async () =>
    Number(
      (
        await db.asService((tx) =>
          tx.query<{ n: string }>("select count(*) as n from video_meetings where booking_id not like 'drill-%' and booking_id not like 'bench-%'"),
        )
      ).rows[0]?.n ?? 0,
    );
  const foreignBefore = await foreignMeetings();
  const metricsBefore = {
    http4xx: await scrape(gatewayMetrics, 'gateway_http_request_duration_seconds_count', { status: /^4/ }),
    wsErrors: await scrape(gatewayMetrics, 'gateway_ws_errors_total'),
    deadLetters: await scrape(meetingUrls, 'meeting_dead_letters_total'),
    passcodeFailures: await scrape(meetingUrls, 'meeting_passcode_failures_total'),
  };
  const deadBefore = (await s.h.jsm.streams.info(streams.deadLetters.name)).state.messages;

  // ── REST: fuzzed paths, methods, headers and bodies ────────────────────────────────────
  const expectProblem = async (what: string, res: Response, allow5xx = false) => {
    const text = await res.text();
    if (res.status >= 500 && !(allow5xx && res.status === 503)) problems.push(`${what}: ${res.status} ${text.slice(0, 160)}`);
    if (res.status < 400) return;
    let code = '';
    try {
      code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
    } catch {
      // not JSON
    }
    if (!/application\/problem\+json/.test(res.headers.get('content-type') ?? '') || !known.has(code))
      problems.push(`${what}: ${res.status} without a problem+json of a known code (${res.headers.get('content-type')}: ${text.slice(0, 120)})`);
  };
  const segment = fc.oneof(
    fc.constantFrom('api', 'video', 'meetings', target.meetingId, 'join', 'leave', 'mute', 'attendance', 'record', 'chat', '..', '%00', '%2e%2e', 'MID-'),
    fc.string({ maxLength: 40 }).map(encodeURIComponent),
  );
  const path = fc.oneof(
    fc.array(segment, { maxLength: 6 }).map((p) => `/api/video/${p.join('/')}`),
    fc
      .constantFrom('join', 'leave', 'mute', 'end', 'attendance', 'participants', 'record', 'chat', '')
      .map((x) => `/api/video/meetings/${target.meetingId}/${x}`),
  );
  const body = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc
      .record({ passcode: fc.oneof(fc.string(), fc.integer(), fc.constant(target.passcode)), sessionId: fc.string(), extra: fc.jsonValue() })
      .map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    fc.constant('x'.repeat(40_000)),
    fc.constant(`${'['.repeat(5_000)}${']'.repeat(5_000)}`),
  );
  const auth = fc.constantFrom(`Bearer ${tutorToken}`, `Bearer ${strangerToken}`, 'Bearer x.y.z', 'Basic Zm9vOmJhcg==', '', `Bearer ${'a'.repeat(20_000)}`);
  const contentType = fc.constantFrom(
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
    'text/\u00ff\u00fe',
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), path, body, auth, contentType, async (method, p, b, a, ct) => {
      count('rest');
      const res = await fetch(`${gateways[0]}${p}`, {
        method,
        headers: { ...(a ? { authorization: a } : {}), 'content-type': ct, 'x-meeting-passcode': 'not-a-code' },
        body: method === 'GET' ? undefined : b,
      }).catch((err: Error) => err);
      if (res instanceof Error) {
        problems.push(`REST ${method} ${p}: ${res.message}`);
        return;
      }
      await expectProblem(`REST ${method} ${p.slice(0, 80)}`, res);
    }),
    { numRuns: runs, seed: 12, endOnFailure: true },
  );

  // ── JWTs: alg none, unknown kid, huge, expired, wrong audience ─────────────────────────
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: target.tutorId, aud: 'authenticated', iss: s.issuer, role: 'authenticated', iat: now, exp: now + 600 };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const secret = new TextEncoder().encode(s.jwtSecret);
  const tokens: Record<string, string> = {
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    'unknown kid': await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'no-such-key' }).sign(randomBytes(32)),
    'huge token': `${b64({ alg: 'HS256' })}.${b64({ ...claims, pad: 'x'.repeat(60_000) })}.sig`,
    expired: await new SignJWT({ ...claims, iat: now - 7_200, exp: now - 3_600 }).setProtectedHeader({ alg: 'HS256' }).sign(secret),
    'wrong audience': await new SignJWT({ ...claims, aud: 'someone-else' }).setProtectedHeader({ alg: 'HS256' }).sign(secret),
    'RS256 header on an HS256 key': `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.${randomBytes(64).toString('base64url')}`,
  };
  for (const [name, token] of Object.entries(tokens)) {
    count('jwt');
    const res = await fetch(`${gateways[1]}/api/video/meetings/${target.meetingId}`, {
      headers: { authorization: `Bearer ${token}`, 'x-meeting-passcode': target.passcode },
    });
    if (res.status !== 401 && res.status !== 431) problems.push(`JWT ${name}: ${res.status}, not 401`);
    await expectProblem(`JWT ${name}`, res);
    const ws = await wsExchange(s, [{ requestId: 'h', hello: { accessToken: token, meetingId: target.meetingId, passcode: target.passcode } }]);
    count('jwt');
    // A token bigger than a frame may be is refused for its size before it is read.
    if (!ws.errors.some((c) => c === 'unauthenticated' || c === 'token_expired' || c === 'message_too_large') && ws.closeCode !== 1009)
      problems.push(`WS hello with JWT ${name}: ${JSON.stringify(ws)}`);
  }

  // ── WebSocket frames: bad JSON, wrong types, huge, deep, unknown fields, wrong order ───
  const hello = { requestId: 'h', hello: { accessToken: tutorToken, meetingId: target.meetingId, passcode: target.passcode, displayName: 'fuzz' } };
  const frames: Array<[string, Array<unknown>, (r: WsResult) => boolean]> = [
    ['not JSON', ['{"hello":'], (r) => r.errors.includes('invalid_request')],
    ['a JSON array', ['[1,2,3]'], (r) => r.errors.includes('invalid_request')],
    ['wrong types', [{ requestId: 5, hello: { accessToken: 7, meetingId: [] } }], (r) => r.errors.length > 0],
    ['unknown fields', [{ requestId: 'u', hello: { ...hello.hello, admin: true }, evil: 1 }], (r) => r.errors.includes('invalid_request')],
    ['deep nesting', [`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`], (r) => r.errors.length > 0 || r.closeCode === 1009],
    [
      'a frame over the cap',
      [JSON.stringify({ requestId: 'big', ping: { sentAtMs: 1 }, pad: 'x'.repeat(100_000) })],
      (r) => r.errors.includes('message_too_large'),
    ],
    ['a frame far over the cap', ['x'.repeat(1_000_000)], (r) => r.closeCode === 1009],
    ['signal before hello', [{ requestId: 's', signal: { toSessionId: 'abc', signal: { type: 'offer', sdp: 'v=0' } } }], (r) => r.errors.length > 0],
    ['leave before hello', [{ requestId: 'l', leave: {} }], (r) => r.errors.length > 0],
    ['hello twice', [hello, hello], (r) => r.welcomes === 1 && r.errors.length > 0],
    [
      'signal to a stranger session',
      [hello, { requestId: 'x', signal: { toSessionId: 'not-a-live-session', signal: { type: 'offer', sdp: 'v=0' } } }],
      (r) => r.errors.length > 0,
    ],
  ];
  for (const [name, sent, ok] of frames) {
    count('ws');
    const r = await wsExchange(s, sent);
    if (r.unknownCodes.length) problems.push(`WS ${name}: unknown error codes ${r.unknownCodes.join(', ')}`);
    if (!ok(r)) problems.push(`WS ${name}: ${JSON.stringify(r)}`);
  }
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (v) => {
      count('ws');
      const r = await wsExchange(s, [JSON.stringify(v)]);
      if (r.unknownCodes.length) problems.push(`WS fuzz ${JSON.stringify(v).slice(0, 80)}: unknown codes ${r.unknownCodes.join(', ')}`);
      if (r.errors.length === 0 && r.closeCode !== 1009 && r.closeCode !== 1008) problems.push(`WS fuzz ${JSON.stringify(v).slice(0, 80)}: no error`);
    }),
    { numRuns: options.short ? 20 : 100, seed: 7 },
  );
  // Those sessions were the hostile client's own; the welcome ones leave a session behind, which the grace closes.

  // ── CloudEvents on booking.confirmed ──────────────────────────────────────────────────
  const valid = (id: string, start = new Date(Date.now() + 3_600_000), end = new Date(Date.now() + 7_200_000)) =>
    toJson(
      BookingConfirmedSchema,
      bookingConfirmed({ bookingId: id, tutorId: randomUUID(), studentId: randomUUID(), scheduledStart: start, scheduledEnd: end }),
    );
  const ceCases: Array<[string, (id: string) => { data: string; drop?: string[]; set?: Record<string, string> }]> = [
    ['wrong ce-type', (id) => ({ data: valid(id), set: { 'ce-type': 'booking.exploded' } })],
    ['no ce-id', (id) => ({ data: valid(id), drop: ['ce-id'] })],
    ['no ce-source', (id) => ({ data: valid(id), drop: ['ce-source'] })],
    ['no ce-specversion', (id) => ({ data: valid(id), drop: ['ce-specversion'] })],
    ['ce-specversion 0.3', (id) => ({ data: valid(id), set: { 'ce-specversion': '0.3' } })],
    ['not JSON', () => ({ data: '{"bookingId": ' })],
    ['wrong types', (id) => ({ data: JSON.stringify({ bookingId: id, tutorId: 5, studentId: true, scheduledStart: 'soon', scheduledEnd: [] }) })],
    ['unknown fields', (id) => ({ data: JSON.stringify({ ...JSON.parse(valid(id)), price: 100 }) })],
    ['scheduledEnd before scheduledStart', (id) => ({ data: valid(id, new Date(Date.now() + 7_200_000), new Date(Date.now() + 3_600_000)) })],
    ['year 9999', (id) => ({ data: valid(id, new Date('9999-01-01T10:00:00Z'), new Date('9999-01-01T11:00:00Z')) })],
    ['a 900 kB payload', (id) => ({ data: JSON.stringify({ ...JSON.parse(valid(id)), title: 'x'.repeat(900_000) }) })],
    ['tutorId not a uuid', (id) => ({ data: JSON.stringify({ ...JSON.parse(valid(id)), tutorId: "'; drop table video_meetings; --" }) })],
  ];
  for (const [name, make] of ceCases) {
    count('cloudevent');
    const id = `hostile-${randomUUID()}`;
    const c = make(id);
    const h = cloudEventHeaders('booking.confirmed', bookingSystemSource);
    for (const k of c.drop ?? []) h.delete(k);
    for (const [k, v] of Object.entries(c.set ?? {})) h.set(k, v);
    try {
      await s.h.js.publish('booking.confirmed', new TextEncoder().encode(c.data), { headers: h });
    } catch (err) {
      // Refused by the server itself (max payload): nothing reached the service.
      if (!/payload|MAX_PAYLOAD/i.test((err as Error).message)) problems.push(`CloudEvent ${name}: publish failed: ${(err as Error).message}`);
    }
  }
  // Sentinel: a valid booking published after them; once its meeting exists and the dead letters stop growing, the bad ones were handled.
  const sentinel = `drill-sentinel-${randomUUID()}`;
  await s.h.js.publish('booking.confirmed', new TextEncoder().encode(valid(sentinel)), {
    headers: cloudEventHeaders('booking.confirmed', bookingSystemSource),
  });
  const deadline = Date.now() + 30_000;
  let dead = 0;
  for (;;) {
    const got = await db.asService((tx) => tx.query('select 1 from video_meetings where booking_id = $1', [sentinel]));
    dead = (await s.h.jsm.streams.info(streams.deadLetters.name)).state.messages - deadBefore;
    if ((got.rowCount ?? 0) > 0 && dead >= ceCases.length - 1) break;
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  const hostileMeetings = Number(
    (await db.asService((tx) => tx.query<{ n: string }>("select count(*) as n from video_meetings where booking_id like 'hostile-%'"))).rows[0]?.n ?? 0,
  );
  if (hostileMeetings > 0) problems.push(`CloudEvents: ${hostileMeetings} meetings created from invalid bookings`);

  // ── Passcode guessing from several client addresses at once ───────────────────────────
  // The lock is per (meeting, user, client key): 10 guesses from each of 4 addresses lock each
  // of them; the same user from another address, and anyone else, is not locked out.
  const studentToken = await s.token(locked.studentId);
  const port = Number(new URL(gateways[0] as string).port);
  const guesses = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      rawGet(port, `/api/video/meetings/${locked.meetingId}`, `127.0.0.${2 + (i % 4)}`, {
        authorization: `Bearer ${studentToken}`,
        'x-meeting-passcode': String(100_000 + ((Number(locked.passcode) + 1 + i) % 900_000)),
      }),
    ),
  );
  byFamily.passcode = guesses.length;
  const statuses = guesses.map((g) => g.status);
  // 503 (`unavailable`, a typed refusal) is what 40 requests at once may get on a saturated 2-core machine.
  if (statuses.some((x) => x !== 403 && x !== 423 && x !== 429 && x !== 503)) problems.push(`passcode guessing: statuses ${[...new Set(statuses)].join(', ')}`);
  if (!statuses.includes(423)) problems.push('passcode guessing: 40 wrong passcodes from 4 addresses never locked one');
  for (const g of guesses) if (!known.has(g.code)) problems.push(`passcode guessing: code ${g.code}`);
  const right = await rawGet(port, `/api/video/meetings/${locked.meetingId}`, '127.0.0.2', {
    authorization: `Bearer ${studentToken}`,
    'x-meeting-passcode': locked.passcode,
  });
  if (right.status !== 423) problems.push(`passcode guessing: the right passcode while locked answered ${right.status}, not 423`);
  const elsewhere = await rawGet(port, `/api/video/meetings/${locked.meetingId}`, '127.0.0.40', {
    authorization: `Bearer ${studentToken}`,
    'x-meeting-passcode': locked.passcode,
  });
  if (elsewhere.status !== 200) problems.push(`passcode guessing: the right passcode from an address that never guessed answered ${elsewhere.status}, not 200`);

  // ── What was written, what was counted ─────────────────────────────────────────────────
  const sessionsWritten = Number(
    (
      await db.asService((tx) =>
        tx.query<{ n: string }>('select count(*) as n from video_participants where meeting_id = $1 and user_id <> $2', [target.meetingId, target.tutorId]),
      )
    ).rows[0]?.n ?? 0,
  );
  const lockedSessions = Number(
    (await db.asService((tx) => tx.query<{ n: string }>('select count(*) as n from video_participants where meeting_id = $1', [locked.meetingId]))).rows[0]
      ?.n ?? 0,
  );
  if (sessionsWritten + lockedSessions > 0)
    problems.push(`sessions written by hostile input: ${sessionsWritten} strangers', ${lockedSessions} on the locked meeting`);
  const bookingsWritten = (await foreignMeetings()) - foreignBefore;
  if (bookingsWritten !== 0) problems.push(`meetings written by hostile input: ${bookingsWritten}`);
  const metrics = {
    http4xx: (await scrape(gatewayMetrics, 'gateway_http_request_duration_seconds_count', { status: /^4/ })) - metricsBefore.http4xx,
    wsErrors: (await scrape(gatewayMetrics, 'gateway_ws_errors_total')) - metricsBefore.wsErrors,
    deadLetters: (await scrape(meetingUrls, 'meeting_dead_letters_total')) - metricsBefore.deadLetters,
    passcodeFailures: (await scrape(meetingUrls, 'meeting_passcode_failures_total')) - metricsBefore.passcodeFailures,
  };
  if (metrics.http4xx < (byFamily.rest ?? 0) / 2)
    problems.push(`gateway_http_request_duration_seconds counted ${metrics.http4xx} 4xx of ${byFamily.rest} fuzzed requests`);
  if (metrics.wsErrors < frames.length) problems.push(`gateway_ws_errors_total grew by ${metrics.wsErrors} for ${frames.length} bad frames`);
  if (metrics.deadLetters < dead) problems.push(`meeting_dead_letters_total grew by ${metrics.deadLetters}, the DEADLETTER stream by ${dead}`);
  if (metrics.passcodeFailures < 5) problems.push(`meeting_passcode_failures_total grew by ${metrics.passcodeFailures} for 40 wrong passcodes`);
  for (const r of s.replicas) {
    if (r.alive()) continue;
    // What it said last: the drill's result is the only place a CI run keeps it.
    const crash = r.crashes.at(-1);
    const tail = crash?.output.trim().split('\n').slice(-15).join('\n') ?? '(no exit recorded)';
    problems.push(`${r.id} is not running after hostile input (exit ${crash?.code ?? crash?.signal ?? '?'}):\n${tail}`);
  }
  const cases = Object.values(byFamily).reduce((a, b) => a + b, 0);
  return {
    cases,
    byFamily,
    problems: [...new Set(problems)].slice(0, 50),
    bookingsWritten,
    sessionsWritten: sessionsWritten + lockedSessions,
    deadLettered: dead,
    metrics,
  };
}

interface WsResult {
  errors: string[];
  unknownCodes: string[];
  welcomes: number;
  closeCode: number | undefined;
}

/** Sends frames on a fresh socket and collects what comes back until a 400 ms lull (or the close). */
function wsExchange(s: DrillStack, frames: unknown[]): Promise<WsResult> {
  return new Promise((resolve) => {
    const g = s.gateways[Math.floor(Math.random() * s.gateways.length)];
    const ws = new WebSocket(`ws://127.0.0.1:${g?.port}/api/video/ws`, { perMessageDeflate: false });
    const r: WsResult = { errors: [], unknownCodes: [], welcomes: 0, closeCode: undefined };
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      ws.terminate();
      resolve(r);
    };
    const lull = () => {
      clearTimeout(timer);
      timer = setTimeout(done, 400);
    };
    ws.on('error', () => {});
    // The per-address upgrade limit answering the fuzzer's hundredth socket in a minute is an
    // answer too: a 429 problem, counted by its code.
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => {
        let code = `http_${res.statusCode}`;
        try {
          code = (JSON.parse(body) as { code?: string }).code ?? code;
        } catch {
          // not a problem document: the status stands
        }
        r.errors.push(code);
        if (!known.has(code)) r.unknownCodes.push(code);
        done();
      });
    });
    ws.on('open', async () => {
      for (const f of frames) {
        ws.send(typeof f === 'string' ? f : JSON.stringify(f));
        await sleep(100);
      }
      lull();
    });
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { error?: { code: string }; welcome?: unknown };
      if (m.error) {
        r.errors.push(m.error.code);
        if (!known.has(m.error.code)) r.unknownCodes.push(m.error.code);
      }
      if (m.welcome) r.welcomes++;
      lull();
    });
    ws.on('close', (code) => {
      r.closeCode = code;
      done();
    });
  });
}

/** A GET from a chosen loopback source address (a different client key each). */
function rawGet(port: number, path: string, localAddress: string, headers: Record<string, string>): Promise<{ status: number; code: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, localAddress, headers }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => {
        let code = '';
        try {
          code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, code });
      });
    });
    req.on('error', (err) => resolve({ status: 0, code: err.message }));
    req.end();
  });
}
