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

async function natsCheck(runtime: Runtime, timeoutMs: number): Promise<string> {
  if (runtime.nc.isClosed()) return 'closed';
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      runtime.nc.flush(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return (err as Error).message || 'failed';
  } finally {
    clearTimeout(timer);
  }
}

/** Probes and metrics. The gateway holds no Postgres: it is ready when NATS answers. */
export function opsRoutes(runtime: Runtime, readyTimeoutMs: number, isDraining: () => boolean = () => false): AnyRoute[] {
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
        const nats = await natsCheck(runtime, readyTimeoutMs);
        const ready = nats === 'ok';
        return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', checks: { nats } } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics (RED per route, NATS, process)',
      tags: ['ops'],
      access: 'public',
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain', schema: { type: 'string' } } },
      problems: [],
      async handler() {
        return { body: await runtime.registry.metrics(), contentType: runtime.registry.contentType };
      },
    }),
  ];
}
