import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { type SignalEnvelope, SignalEnvelopeSchema, type SignalSchema } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { envelopeProblem } from './validate';

const M = 'MID-AAAAAAAAAAAAAAAA';
const limits = { SIGNAL_MAX_SDP_BYTES: 65_536, SIGNAL_MAX_CANDIDATE_BYTES: 4_096 };
interface Patch {
  meetingId?: string;
  toSessionId?: string;
  requestId?: string;
  errorCode?: string;
  signal?: MessageInitShape<typeof SignalSchema> | undefined;
}
const env = (patch: Patch = {}): SignalEnvelope =>
  create(SignalEnvelopeSchema, {
    meetingId: M,
    fromSessionId: 'sess-from-1',
    toSessionId: 'sess-to-1',
    requestId: 'r1',
    signal: { type: 'offer', sdp: 'v=0\r\n' },
    ...patch,
  });
const codeOf = (e: SignalEnvelope, subjectMeeting = M) => envelopeProblem(e, subjectMeeting, limits)?.code;

describe('envelopeProblem', () => {
  it('accepts the four signal types in their shapes', () => {
    expect(codeOf(env())).toBeUndefined();
    expect(codeOf(env({ signal: { type: 'answer', sdp: 'v=0' } }))).toBeUndefined();
    expect(
      codeOf(env({ signal: { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host', sdpMid: '0' } } })),
    ).toBeUndefined();
    expect(codeOf(env({ signal: { type: 'candidate', candidate: { candidate: '' } } }))).toBeUndefined(); // end of candidates
    expect(codeOf(env({ signal: { type: 'ice-restart' } }))).toBeUndefined();
    expect(codeOf(env({ signal: { type: 'ice-restart', sdp: 'v=0' } }))).toBeUndefined();
  });

  it('refuses unknown types, missing parts and mixed shapes', () => {
    expect(codeOf(env({ signal: { type: 'bye' } }))).toBe('invalid_request');
    expect(codeOf(env({ signal: undefined }))).toBe('invalid_request');
    expect(codeOf(env({ signal: { type: 'offer' } }))).toBe('invalid_request');
    expect(codeOf(env({ signal: { type: 'candidate' } }))).toBe('invalid_request');
    expect(codeOf(env({ signal: { type: 'candidate', sdp: 'v=0', candidate: { candidate: '' } } }))).toBe('invalid_request');
    expect(codeOf(env({ signal: { type: 'answer', sdp: 'v=0', candidate: { candidate: '' } } }))).toBe('invalid_request');
  });

  it('refuses an envelope whose meeting or sessions do not add up', () => {
    expect(codeOf(env(), 'MID-BBBBBBBBBBBBBBBB')).toBe('invalid_request');
    expect(codeOf(env({ meetingId: 'nope' }), 'nope')).toBe('invalid_request');
    expect(codeOf(env({ toSessionId: 'a.b' }))).toBe('invalid_request');
    expect(codeOf(env({ toSessionId: 'sess-from-1' }))).toBe('invalid_request');
    expect(codeOf(env({ errorCode: 'not_in_meeting' }))).toBe('invalid_request');
    expect(codeOf(env({ requestId: 'x'.repeat(129) }))).toBe('invalid_request');
  });

  it('caps the SDP at its byte size (UTF-8) and the candidate line', () => {
    expect(codeOf(env({ signal: { type: 'offer', sdp: 'a'.repeat(65_536) } }))).toBeUndefined();
    expect(codeOf(env({ signal: { type: 'offer', sdp: 'a'.repeat(65_537) } }))).toBe('message_too_large');
    // 30,000 characters of 3 bytes each: under the cap in characters, over it in bytes.
    expect(codeOf(env({ signal: { type: 'offer', sdp: '€'.repeat(30_000) } }))).toBe('message_too_large');
    expect(codeOf(env({ signal: { type: 'candidate', candidate: { candidate: 'c'.repeat(4_097) } } }))).toBe('message_too_large');
  });
});
