import { errorCodeNames } from '@lessoncall/kit';
import { z } from 'zod';
import { type AnyRoute, commonProblems } from '../rest/route';
import { type JsonSchema, ref } from './jsonschema';

export const problemSchema: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details with the stable error code of the services.',
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    code: { type: 'string', enum: [...errorCodeNames] },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    field: { type: 'string' },
    attemptsLeft: { type: 'integer', minimum: 0 },
    retryAfterSeconds: { type: 'integer', minimum: 0 },
  },
  required: ['type', 'title', 'status', 'detail', 'code', 'instance', 'requestId'],
  additionalProperties: false,
};

const statusText: Record<number, string> = {
  400: 'Invalid request (code invalid_request, with the field)',
  401: 'Missing, invalid, expired or signed-out access token (unauthenticated, token_expired, token_revoked)',
  403: 'Not allowed (forbidden, not_a_participant, passcode_invalid with attemptsLeft, …)',
  404: 'No such meeting or session',
  409: 'The meeting is not in a state that allows this (not started, ended, cancelled, full)',
  413: 'Request body too large',
  423: 'Passcode entry locked (passcode_locked); Retry-After says until when',
  429: 'Rate limited; Retry-After says when to retry',
  500: 'Internal error',
  503: 'A service did not answer in time; Retry-After says when to retry',
};

const headerDocs: Record<string, JsonSchema> = {
  'X-Request-Id': { description: 'The request id (echoed when the client sent a valid one)', schema: { type: 'string' } },
  'X-Trace-Id': { description: 'The W3C trace id of this request', schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } },
  'Retry-After': { description: 'Seconds until a retry can succeed', schema: { type: 'integer', minimum: 1 } },
  Location: { description: 'The new resource', schema: { type: 'string' } },
};

export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const headerRefs = (names: string[]) => Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));

/** The OpenAPI 3.1 document of the routes the app serves, generated from the same table the router is built from. */
export function buildOpenApi(routes: readonly AnyRoute[], schemas: Record<string, JsonSchema>, info: { title: string; version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const parameters: JsonSchema[] = [];
    for (const [name, schema] of Object.entries(route.params ?? {})) parameters.push({ name, in: 'path', required: true, schema });
    if (route.query) {
      const q = inputSchema(route.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    for (const h of route.headers ?? [])
      parameters.push({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string' } });

    const responses: Record<string, JsonSchema> = {};
    for (const [status, doc] of Object.entries(route.responses)) {
      responses[status] = {
        description: doc.description,
        headers: headerRefs(['X-Request-Id', 'X-Trace-Id', ...(doc.headers ?? [])]),
        ...(doc.schema ? { content: { [doc.contentType ?? 'application/json']: { schema: doc.schema } } } : {}),
      };
    }
    const problems = new Set([...commonProblems(route.access, Boolean(route.body || route.query)), ...route.problems]);
    for (const status of [...problems].sort((a, b) => a - b)) {
      if (responses[status]) continue;
      responses[status] = {
        description: statusText[status] ?? 'Problem',
        headers: headerRefs(['X-Request-Id', 'X-Trace-Id', ...([423, 429, 503].includes(status) ? ['Retry-After'] : [])]),
        content: { 'application/problem+json': { schema: ref('Problem') } },
      };
    }

    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: route.tags,
      security: route.access === 'public' ? [] : [{ bearerAuth: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: inputSchema(route.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { ...info, description: 'The public REST API of lessoncall video meetings. Errors are RFC 9457 problem+json with a stable code.' },
    paths,
    components: {
      schemas: { ...schemas, Problem: problemSchema },
      headers: headerDocs,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "A Supabase access token (or the booking system's service_role credential)",
        },
      },
    },
  };
}
