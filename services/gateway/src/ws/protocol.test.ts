import { ServiceError } from '@lessoncall/kit';
import { describe, expect, it } from 'vitest';
import { parseClientMessage, salvageRequestId, serverMessage } from './protocol';

const parse = (text: string | Buffer) => parseClientMessage(typeof text === 'string' ? Buffer.from(text) : text);
const problem = (text: string | Buffer) => {
  try {
    parse(text);
  } catch (err) {
    return err;
  }
  throw new Error('parsed');
};

describe('parseClientMessage', () => {
  it('reads the proto3 JSON form of a ClientMessage', () => {
    const m = parse('{"requestId":"7","signal":{"toSessionId":"abc","signal":{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":0}}}}');
    expect(m.requestId).toBe('7');
    expect(m.kind.case).toBe('signal');
    if (m.kind.case === 'signal') expect(m.kind.value.signal?.candidate?.sdpMLineIndex).toBe(0);
  });

  it.each([
    ['not JSON', '{"ping":'],
    ['not an object', '[1]'],
    ['no kind', '{"requestId":"1"}'],
    ['an unknown kind', '{"teleport":{}}'],
    ['an unknown field', '{"signal":{"toSessionId":"a","fromSessionId":"b"}}'],
    ['a wrong type', '{"hello":{"meetingId":1}}'],
    ['two kinds', '{"ping":{},"leave":{}}'],
    ['empty', '  '],
  ])('refuses %s as invalid_request', (_what, text) => {
    const err = problem(text);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe('invalid_request');
  });

  it('refuses bytes that are not UTF-8 as invalid_request', () => {
    expect((problem(Buffer.from([0x7b, 0xff, 0x7d])) as ServiceError).code).toBe('invalid_request');
  });
});

describe('salvageRequestId', () => {
  it('finds the requestId of a message that fails later checks, and nothing in garbage', () => {
    expect(salvageRequestId(Buffer.from('{"requestId":"r1","dance":{}}'))).toBe('r1');
    expect(salvageRequestId(Buffer.from('{"requestId":5}'))).toBe('');
    expect(salvageRequestId(Buffer.from('{"requestId":"r1"'))).toBe('');
  });
});

describe('serverMessage', () => {
  it('writes the proto3 JSON form, oneof by its field name', () => {
    expect(JSON.parse(serverMessage('9', { case: 'reconnect', value: { afterMs: 1500 } }))).toEqual({ requestId: '9', reconnect: { afterMs: 1500 } });
  });
});
