import { create, type DescMessage, fromJson, fromJsonString, type MessageInitShape, type MessageShape, toJsonString } from '@bufbuild/protobuf';
import { invalidRequest } from './errors';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Proto3 JSON (lowerCamelCase, RFC 3339 timestamps), with defaults spelled out for readers in any language. */
export function encode<D extends DescMessage>(schema: D, value: MessageInitShape<D>): Uint8Array {
  return encoder.encode(toJson(schema, value));
}

export function toJson<D extends DescMessage>(schema: D, value: MessageInitShape<D>): string {
  const message = isMessage(value) ? (value as MessageShape<D>) : create(schema, value);
  return toJsonString(schema, message, { alwaysEmitImplicit: true });
}

function isMessage(value: unknown): boolean {
  return typeof value === 'object' && value !== null && '$typeName' in value;
}

/** Parses proto3 JSON; any malformed body or unknown field is an invalid_request naming the problem. */
export function decode<D extends DescMessage>(schema: D, data: Uint8Array | string): MessageShape<D> {
  const text = typeof data === 'string' ? data : decoder.decode(data);
  if (text.trim() === '') return create(schema);
  try {
    return fromJsonString(schema, text, { ignoreUnknownFields: false });
  } catch (err) {
    throw invalidRequest(fieldFromParseError(err), `body is not a valid ${schema.name}: ${(err as Error).message}`);
  }
}

/**
 * Reads an already-parsed proto3 JSON value (JSON.parse'd by the caller, who keeps it) with
 * the same rules and errors as `decode`.
 */
export function decodeJson<D extends DescMessage>(schema: D, value: unknown): MessageShape<D> {
  try {
    return fromJson(schema, value as Parameters<typeof fromJson>[1], { ignoreUnknownFields: false });
  } catch (err) {
    throw invalidRequest(fieldFromParseError(err), `body is not a valid ${schema.name}: ${(err as Error).message}`);
  }
}

function fieldFromParseError(err: unknown): string {
  const m = /field (\w+(?:\.\w+)*)|key "(\w+)"/.exec((err as Error).message ?? '');
  return m?.[1] ?? m?.[2] ?? 'body';
}
