import { decodeJwt } from 'jose';
import { z } from 'zod';
import { demoUsers, signDemoToken } from '../auth/index';
import type { GatewayConfig } from '../config';
import type { JsonSchema } from '../openapi/jsonschema';
import { ref } from '../openapi/jsonschema';
import { type AnyRoute, defineRoute } from './route';

const tokenBody = z.strictObject({ as: z.enum(['tutor', 'student']) });

const demoUserSchema: JsonSchema = {
  type: 'object',
  properties: { userId: { type: 'string', format: 'uuid' }, displayName: { type: 'string' }, userType: { type: 'string', enum: ['tutor', 'student'] } },
  required: ['userId', 'displayName', 'userType'],
  additionalProperties: false,
};

export const devSchemas: Record<string, JsonSchema> = {
  DevToken: {
    type: 'object',
    properties: {
      accessToken: { type: 'string' },
      userId: { type: 'string', format: 'uuid' },
      displayName: { type: 'string' },
      expiresAt: { type: 'string', format: 'date-time' },
    },
    required: ['accessToken', 'userId', 'expiresAt'],
    additionalProperties: false,
  },
  DevConfig: {
    type: 'object',
    properties: { devIssuer: { const: true }, demoUsers: { type: 'array', items: demoUserSchema } },
    required: ['devIssuer', 'demoUsers'],
    additionalProperties: false,
  },
};

/** The local dev issuer: exists only when DEV_ISSUER_ENABLED is set, which the Helm chart never does. */
export function devRoutes(config: GatewayConfig): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/dev/token',
      operationId: 'devToken',
      summary: 'Sign an access token for the demo tutor or student (local development only)',
      tags: ['dev'],
      access: 'public',
      body: tokenBody,
      responses: { 200: { description: 'An access token of the shape Supabase issues', schema: ref('DevToken') } },
      problems: [],
      async handler(c) {
        const demo = demoUsers[c.body.as];
        const accessToken = await signDemoToken(config, c.body.as);
        const expiresAt = new Date((decodeJwt(accessToken).exp ?? 0) * 1000).toISOString();
        const { userId, displayName } = demo;
        return { body: { accessToken, userId, ...(displayName ? { displayName } : {}), expiresAt } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/dev/config',
      operationId: 'devConfig',
      summary: 'Whether the dev issuer is on, and its demo users (local development only)',
      tags: ['dev'],
      access: 'public',
      responses: { 200: { description: 'The demo users the web app offers as sign-in buttons', schema: ref('DevConfig') } },
      problems: [],
      async handler() {
        return { body: { devIssuer: true, demoUsers: [demoUsers.tutor, demoUsers.student] } };
      },
    }),
  ];
}
