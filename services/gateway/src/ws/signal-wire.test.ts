import { create, fromJson, type JsonValue, toJson as protoToJson } from '@bufbuild/protobuf';
import { decode, encode } from '@lessoncall/kit';
import { ServerMessageSchema, SignalEnvelopeSchema, SignalSchema } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { readEnvelope, renderEnvelope, renderIncomingSignal } from './signal-wire';

const awkward = ['', 'plain', 'ünïcødé ✓', 'quote " and \\ backslash', 'line\nbreak\ttab', '\u0000\u001f', '😀'.repeat(50)];

function signals() {
  const out = [];
  for (const text of awkward) {
    out.push(create(SignalSchema, { type: 'offer', sdp: `v=0\r\no=- ${text}\r\n` }));
    out.push(
      create(SignalSchema, {
        type: 'candidate',
        candidate: { candidate: `candidate:1 1 udp 1 ${text}`, sdpMid: text, sdpMLineIndex: 3, usernameFragment: text },
      }),
    );
  }
  out.push(create(SignalSchema, { type: 'candidate', candidate: { candidate: '' } }));
  out.push(create(SignalSchema, { type: 'ice-restart' }));
  return out;
}

describe('the signal relay wire format is the proto3 JSON the generated codec reads and writes', () => {
  it('an envelope rendered on the fast path is the SignalEnvelope the codec decodes', () => {
    let seq = 0;
    for (const signal of signals()) {
      seq = (seq * 7 + 1) % 4_000_000_000;
      const fields = { meetingId: 'MID-ABCDEFGHJKLMNPQR', fromSessionId: 'from_1', toSessionId: 'to-2', requestId: awkward[seq % awkward.length] ?? '', seq };
      const decoded = decode(SignalEnvelopeSchema, renderEnvelope(fields, protoToJson(SignalSchema, signal)));
      expect(decoded).toEqual(create(SignalEnvelopeSchema, { ...fields, signal }));
    }
  });

  it('an envelope the codec encodes (signaling, a refusal) reads the same on the fast path', () => {
    for (const signal of signals()) {
      const fields = { meetingId: 'MID-ABCDEFGHJKLMNPQR', fromSessionId: 'a', toSessionId: 'b', requestId: 'r1', seq: 4_000_000_000 };
      const read = readEnvelope(encode(SignalEnvelopeSchema, { ...fields, signal }));
      expect(read).toEqual({ ...fields, errorCode: '', signal: expect.any(Object) });
      expect(fromJson(SignalSchema, read?.signal as JsonValue)).toEqual(signal);
    }
    const refusal = readEnvelope(
      encode(SignalEnvelopeSchema, { meetingId: 'm', fromSessionId: 'a', toSessionId: 'b', requestId: 'r', errorCode: 'session_not_found' }),
    );
    expect(refusal).toMatchObject({ errorCode: 'session_not_found', signal: undefined, seq: 0 });
  });

  it('what reaches the client is the ServerMessage the codec decodes', () => {
    for (const signal of signals()) {
      const text = renderIncomingSignal('from_1', protoToJson(SignalSchema, signal), 9);
      expect(decode(ServerMessageSchema, text)).toEqual(
        create(ServerMessageSchema, { kind: { case: 'signal', value: { fromSessionId: 'from_1', signal, seq: 9 } } }),
      );
    }
  });

  it('anything else is not an envelope', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    for (const bad of [
      '',
      'null',
      '[]',
      '"x"',
      '{',
      '{"meetingId":1}',
      '{"seq":-1}',
      '{"seq":1.5}',
      '{"seq":"x"}',
      '{"signal":"offer"}',
      '{"signal":[1]}',
      '{"fromSessionId":{}}',
    ]) {
      expect(readEnvelope(bytes(bad)), bad).toBeUndefined();
    }
    // proto3 JSON leaves defaults out and may spell a uint32 as a string.
    expect(readEnvelope(bytes('{"seq":"7"}'))).toEqual({
      meetingId: '',
      fromSessionId: '',
      toSessionId: '',
      requestId: '',
      errorCode: '',
      seq: 7,
      signal: undefined,
    });
  });
});
