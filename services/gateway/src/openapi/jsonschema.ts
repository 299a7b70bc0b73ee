import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';

export type JsonSchema = { [key: string]: unknown };

const FIELD_PRESENCE_IMPLICIT = 2;

export function ref(name: string): JsonSchema {
  return { $ref: `#/components/schemas/${name}` };
}

function scalarSchema(scalar: ScalarType): JsonSchema {
  switch (scalar) {
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BYTES:
      return { type: 'string', contentEncoding: 'base64' };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: 'number' };
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // proto3 JSON writes 64-bit integers as strings.
      return { type: 'string', pattern: '^-?[0-9]+$' };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', minimum: 0 };
    default:
      return { type: 'integer' };
  }
}

/**
 * JSON Schemas (draft 2020-12) of the proto3 JSON form the gateway writes (kit's toJson:
 * implicit-presence fields always present, unset messages and `optional` scalars omitted),
 * for the messages given and every message they reference, keyed by message name.
 */
export function protoJsonSchemas(roots: readonly DescMessage[]): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  const visit = (desc: DescMessage): void => {
    if (out[desc.name] || desc.typeName === 'google.protobuf.Timestamp') return;
    out[desc.name] = {};
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const field of desc.fields) {
      properties[field.jsonName] = fieldSchema(field, visit);
      if (field.presence === FIELD_PRESENCE_IMPLICIT && !field.oneof) required.push(field.jsonName);
    }
    out[desc.name] = { type: 'object', properties, required, additionalProperties: false };
  };
  for (const root of roots) visit(root);
  return out;
}

function messageSchema(desc: DescMessage, visit: (d: DescMessage) => void): JsonSchema {
  if (desc.typeName === 'google.protobuf.Timestamp') return { type: 'string', format: 'date-time' };
  visit(desc);
  return ref(desc.name);
}

function fieldSchema(field: DescField, visit: (d: DescMessage) => void): JsonSchema {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarSchema(field.scalar);
    case 'enum':
      return { type: 'string', enum: field.enum.values.map((v) => v.name) };
    case 'message':
      return messageSchema(field.message, visit);
    case 'list': {
      const items =
        field.listKind === 'scalar'
          ? scalarSchema(field.scalar)
          : field.listKind === 'enum'
            ? { type: 'string', enum: field.enum.values.map((v) => v.name) }
            : messageSchema(field.message, visit);
      return { type: 'array', items };
    }
    case 'map': {
      const values =
        field.mapKind === 'scalar'
          ? scalarSchema(field.scalar)
          : field.mapKind === 'enum'
            ? { type: 'string', enum: field.enum.values.map((v) => v.name) }
            : messageSchema(field.message, visit);
      return { type: 'object', additionalProperties: values };
    }
  }
}
