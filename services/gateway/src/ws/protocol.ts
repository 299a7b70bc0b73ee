import type { MessageInitShape } from '@bufbuild/protobuf';
import { decodeJson, ServiceError, toJson } from '@lessoncall/kit';
import { type ClientMessage, ClientMessageSchema, isSubjectToken, ServerMessageSchema } from '@lessoncall/proto';

/** The `kind` of a ServerMessage as protobuf-es spells a oneof: `{ case: 'welcome', value: {...} }`. */
export type ServerKind = NonNullable<MessageInitShape<typeof ServerMessageSchema>['kind']>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A client frame, parsed, and the JSON it was parsed from (a signal travels on as the client wrote it). */
export interface ClientFrame {
  message: ClientMessage;
  json: unknown;
}

/**
 * Parses one frame (text or binary, the bytes are the same) as the proto3 JSON of a
 * ClientMessage. Every problem is an invalid_request naming the field, never a throw of
 * anything else: the socket stays open.
 */
export function parseClientFrame(data: Buffer): ClientFrame {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    throw new ServiceError('invalid_request', 'message is not UTF-8 text', { field: 'body' });
  }
  if (text.trim() === '') throw new ServiceError('invalid_request', 'empty message', { field: 'body' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ServiceError('invalid_request', `body is not a valid ClientMessage: ${(err as Error).message}`, { field: 'body' });
  }
  const message = decodeJson(ClientMessageSchema, json);
  if (message.kind.case === undefined) throw new ServiceError('invalid_request', 'message has no kind (hello, signal, media, leave, ping)', { field: 'kind' });
  return { message, json };
}

export function parseClientMessage(data: Buffer): ClientMessage {
  return parseClientFrame(data).message;
}

/** The requestId of a frame that failed to parse, when one can be read, so the error still matches. */
export function salvageRequestId(data: Buffer): string {
  if (data.length > 4096) return '';
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    if (value && typeof value === 'object' && 'requestId' in value) {
      const id = (value as { requestId: unknown }).requestId;
      if (typeof id === 'string' && id.length <= 128) return id;
    }
  } catch {
    // not JSON: no id to echo
  }
  return '';
}

export function serverMessage(requestId: string, kind: ServerKind): string {
  return toJson(ServerMessageSchema, { requestId, kind });
}

export function errorMessage(requestId: string, error: ServiceError): string {
  return serverMessage(requestId, { case: 'error', value: error.toMessage() });
}

/** A session or meeting id the client sends becomes a NATS subject token: it must be one. */
export function requireToken(value: string, field: string): string {
  if (!isSubjectToken(value)) throw new ServiceError('invalid_request', `${field} is not a valid id`, { field });
  return value;
}

export const signalTypes: ReadonlySet<string> = new Set(['offer', 'answer', 'candidate', 'ice-restart']);
export const mediaKinds: ReadonlySet<string> = new Set(['audio', 'video']);
