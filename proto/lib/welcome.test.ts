import { create, fromJsonString, toBinary, toJsonString } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { JoinResponseSchema, ServerMessageSchema } from '../index';

describe('the welcome is the JoinResponse', () => {
  // Welcome (until 2026-12) had these fields: a client built against it reads the JoinResponse the same.
  const welcomeFields = [
    [1, 'sessionId'],
    [2, 'resumeToken'],
    [3, 'userType'],
    [4, 'meeting'],
    [5, 'participants'],
    [6, 'iceServers'],
    [7, 'iceTtlSeconds'],
    [8, 'resumed'],
  ];

  it('keeps the numbers and JSON names the old Welcome had, so its bytes and JSON are unchanged', () => {
    expect(JoinResponseSchema.fields.map((f) => [f.number, f.jsonName])).toEqual(welcomeFields);
    const welcome = ServerMessageSchema.fields.find((f) => f.name === 'welcome');
    expect(welcome?.number).toBe(10);
  });

  it('goes out as the participant service answered it, and a client reads the same fields back', () => {
    const res = create(JoinResponseSchema, { sessionId: 'S-1', resumeToken: 'tok', userType: 'student', iceTtlSeconds: 3600, resumed: true });
    const msg = create(ServerMessageSchema, { requestId: 'r1', kind: { case: 'welcome', value: res } });
    const json = toJsonString(ServerMessageSchema, msg);
    expect(JSON.parse(json)).toEqual({
      requestId: 'r1',
      welcome: { sessionId: 'S-1', resumeToken: 'tok', userType: 'student', iceTtlSeconds: 3600, resumed: true },
    });
    const back = fromJsonString(ServerMessageSchema, json);
    expect(back.kind.case === 'welcome' && back.kind.value.sessionId).toBe('S-1');
    expect(toBinary(ServerMessageSchema, back)).toEqual(toBinary(ServerMessageSchema, msg));
  });
});
