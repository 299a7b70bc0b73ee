/**
 * The signal relay's hot path reads and writes the proto3 JSON of SignalEnvelope and of
 * ServerMessage{signal} with JSON.parse / JSON.stringify instead of protobuf-es' reflective
 * codec, which was a fifth of the gateway's CPU per relayed candidate. The signal itself is
 * carried as the JSON the sender's client wrote, after the gateway validated it against the
 * proto; `signal-wire.test.ts` proves both shapes equal what the generated codec reads and
 * writes. Anything that is not a signal goes through the generated codec as before.
 */

const decoder = new TextDecoder();

export interface EnvelopeFields {
  meetingId: string;
  fromSessionId: string;
  toSessionId: string;
  requestId: string;
  seq: number;
}

/** A SignalEnvelope as read on signal.deliver: `signal` is the Signal's proto3 JSON. */
export interface WireEnvelope extends EnvelopeFields {
  signal: unknown;
  errorCode: string;
}

/** The proto3 JSON of a SignalEnvelope carrying `signal` (a validated Signal's JSON). */
export function renderEnvelope(e: EnvelopeFields, signal: unknown): string {
  return JSON.stringify({
    meetingId: e.meetingId,
    fromSessionId: e.fromSessionId,
    toSessionId: e.toSessionId,
    signal,
    requestId: e.requestId,
    errorCode: '',
    seq: e.seq,
  });
}

/** Reads a SignalEnvelope's proto3 JSON; undefined when it is not one. */
export function readEnvelope(data: Uint8Array): WireEnvelope | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const meetingId = str(o.meetingId);
  const fromSessionId = str(o.fromSessionId);
  const toSessionId = str(o.toSessionId);
  const requestId = str(o.requestId);
  const errorCode = str(o.errorCode);
  const seq = uint(o.seq);
  const signal = o.signal ?? undefined;
  if (meetingId === undefined || fromSessionId === undefined || toSessionId === undefined || requestId === undefined || errorCode === undefined)
    return undefined;
  if (seq === undefined || (signal !== undefined && (typeof signal !== 'object' || Array.isArray(signal)))) return undefined;
  return { meetingId, fromSessionId, toSessionId, requestId, errorCode, seq, signal };
}

/** The proto3 JSON of ServerMessage{requestId: '', signal: IncomingSignal{fromSessionId, signal, seq}}. */
export function renderIncomingSignal(fromSessionId: string, signal: unknown, seq: number): string {
  return JSON.stringify({ requestId: '', signal: { fromSessionId, signal, seq } });
}

// proto3 JSON: a missing or null field is its default.
function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : undefined;
}

function uint(v: unknown): number | undefined {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff ? n : undefined;
}
