import type { Runtime } from '@lessoncall/kit';
import type { JsonSchema } from '../openapi/jsonschema';
import { ref } from '../openapi/jsonschema';
import { type AnyRoute, defineRoute } from './route';

export const opsSchemas: Record<string, JsonSchema> = {
  Health: {
    type: 'object',
    properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'string' } } },
    required: ['status'],
    additionalProperties: false,
  },
};

/**
 * Probes. The gateway holds no Postgres: it is ready when NATS answers, as the runtime's cached
 * readiness last found (no round trip per probe: this port is public). /metrics is not here:
 * it is served on HEALTH_PORT only, which no Service or ingress exposes to the public.
 */
export function opsRoutes(runtime: Runtime, isDraining: () => boolean = () => false): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      operationId: 'healthz',
      summary: 'Liveness: the process serves requests',
      tags: ['ops'],
      access: 'public',
      responses: { 200: { description: 'Alive', schema: ref('Health') } },
      problems: [],
      async handler() {
        return { body: { status: 'ok' } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      operationId: 'readyz',
      summary: 'Readiness: NATS answers',
      tags: ['ops'],
      access: 'public',
      responses: { 200: { description: 'Ready', schema: ref('Health') }, 503: { description: 'Not ready', schema: ref('Health') } },
      problems: [],
      async handler() {
        // A draining replica leaves the load balancer first, so no new socket lands on it.
        if (isDraining()) return { status: 503, body: { status: 'draining', checks: {} } };
        const { ready, checks } = await runtime.readiness.check();
        return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', checks } };
      },
    }),
  ];
}
