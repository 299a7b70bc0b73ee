import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOf } from './support/k8s';
import { chartDir, repoDir, SERVICES, type ServiceName } from './support/paths';
import { componentName, find, render, rendered, VALUE_SET_NAMES, VARIANTS } from './support/render';

// What each Deployment sets must be exactly what that service reads: services/<name>/src/config.ts
// exports `configSchema` (a zod object, or its shape), whose keys are the env var names.

interface ZodLike {
  safeParse(value: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } };
}
interface ServiceConfig {
  /** Every env var name the service reads. */
  keys: Set<string>;
  /** Those without a default: the pod must set them. */
  required: Set<string>;
  /** Parses a whole environment as the service does at start-up (null: names only). */
  check: ((env: Record<string, string>) => string[]) | null;
  source: string;
}

// Until a service's config.ts exists, the names agreed for it (services/kit's shared ones plus
// the issue's list). Marked "planned" in the test names; the real file replaces them.
const KIT_COMMON = ['LOG_LEVEL', 'LOG_PRETTY', 'NATS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'SHUTDOWN_TIMEOUT_MS', 'HEALTH_PORT'];
const KIT_DATABASE = ['DATABASE_URL', 'DATABASE_POOL_SIZE'];
const PLANNED: Record<Exclude<ServiceName, 'gateway' | 'media'>, { keys: string[]; required: string[] }> = {
  meeting: {
    keys: [
      ...KIT_COMMON,
      ...KIT_DATABASE,
      'PUBLIC_BASE_URL',
      'JOIN_LEAD_MINUTES',
      'JOIN_GRACE_MINUTES',
      'PASSCODE_MAX_FAILURES',
      'PASSCODE_LOCK_MINUTES',
      'SWEEP_INTERVAL_MS',
    ],
    required: ['DATABASE_URL', 'PUBLIC_BASE_URL'],
  },
  participant: {
    keys: [...KIT_COMMON, ...KIT_DATABASE, 'PRESENCE_GRACE_SECONDS', 'MAX_SESSIONS_PER_MEETING', 'RESUME_TOKEN_SECRET'],
    required: ['DATABASE_URL', 'RESUME_TOKEN_SECRET'],
  },
  signaling: { keys: KIT_COMMON, required: [] },
  turn: { keys: [...KIT_COMMON, 'TURN_SECRET', 'TURN_URLS', 'STUN_URLS', 'TURN_TTL_SECONDS'], required: ['TURN_SECRET'] },
};

/**
 * Settings values.yaml cannot default because they name the operator's own Supabase project;
 * the default render leaves them out (the pod then fails at start naming them) and NOTES warns.
 * Every other value set must set them.
 */
const SITE_SPECIFIC: Partial<Record<ServiceName, string[]>> = { gateway: ['JWT_ISSUER'], media: ['S3_ENDPOINT'] };

async function loadServiceConfig(service: ServiceName): Promise<ServiceConfig> {
  const file = join(repoDir, 'services', service, 'src', 'config.ts');
  if (!existsSync(file)) {
    if (service === 'gateway') throw new Error(`${file} is missing`);
    if (service === 'media') throw new Error(`${file} is missing`);
    const planned = PLANNED[service];
    return { keys: new Set(planned.keys), required: new Set(planned.required), check: null, source: 'planned names (config.ts not written yet)' };
  }
  const module = (await import(file)) as Record<string, unknown>;
  const exported = module.configSchema as { shape?: Record<string, ZodLike> } | Record<string, ZodLike> | undefined;
  if (!exported) throw new Error(`${file} does not export configSchema`);
  const shape = (exported.shape ?? exported) as Record<string, ZodLike>;
  const keys = new Set(Object.keys(shape));
  const required = new Set([...keys].filter((key) => !shape[key]?.safeParse(undefined).success));
  // The service's own loader when it has one (it may check more than the schema, e.g. "JWT_SECRET
  // or JWT_JWKS_URL"), else the schema itself.
  const loader = Object.entries(module).find(([name, value]) => /^load\w*Config$/.test(name) && typeof value === 'function')?.[1] as
    | ((env: Record<string, string>) => unknown)
    | undefined;
  const check = (env: Record<string, string>): string[] => {
    const problems: string[] = [];
    for (const [key, schema] of Object.entries(shape)) {
      const result = schema.safeParse(env[key] === '' ? undefined : env[key]);
      if (!result.success) problems.push(`${key}: ${result.error?.issues.map((i) => i.message).join(', ')}`);
    }
    if (problems.length === 0 && loader) {
      try {
        loader(env);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    return problems;
  };
  return { keys, required, check, source: `services/${service}/src/config.ts` };
}

/** A value the service would get from the cluster, shaped like the real one. */
function clusterValue(name: string, source: { valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: unknown } }): string {
  if (source.valueFrom?.fieldRef?.fieldPath === 'metadata.name') return 'lessoncall-gateway-7d9f8c6b5-x2x9q';
  if (source.valueFrom?.fieldRef) return '10.0.0.12';
  if (name === 'DATABASE_URL') return 'postgres://lessoncall:secret@db.example.supabase.co:6543/postgres';
  // A user nkey seed, the shape `npm run nats:keys` writes into each service's Secret.
  if (name === 'NATS_NKEY_SEED') return `SU${'A'.repeat(56)}`;
  // Each key of the Secret is its own random value in a cluster.
  return `generated-${name.toLowerCase()}-0123456789abcdef0123456789abcdef`;
}

const SETS = [...VALUE_SET_NAMES, ...(Object.keys(VARIANTS) as (keyof typeof VARIANTS)[])];

describe.each(SERVICES)('%s: the env the chart sets matches its config', async (service) => {
  const config = await loadServiceConfig(service);

  it.each(SETS)(`%s values: no unknown variable, none missing (${config.source})`, (set) => {
    const manifests = rendered(set);
    const deployment = find(manifests, 'Deployment', componentName(service));
    const env = envOf(deployment.spec.template.spec.containers[0], manifests);
    const names = [...env.keys()];
    expect(
      names.filter((name) => !config.keys.has(name)),
      'set by the chart, read by nobody',
    ).toEqual([]);
    const allowedMissing = set === 'default' ? (SITE_SPECIFIC[service] ?? []) : [];
    const missing = [...config.required].filter((key) => !env.has(key) && !allowedMissing.includes(key));
    expect(missing, 'required by the service, not set by the chart').toEqual([]);
    if (!config.check) return;
    const values = Object.fromEntries([...env].map(([name, source]) => [name, source.value ?? clusterValue(name, source)]));
    const problems = config.check(values).filter((p) => !allowedMissing.some((key) => p.includes(key)));
    expect(problems, 'the service would refuse this environment at start-up').toEqual([]);
  });

  it('lets values.schema.json accept only variables the service reads', () => {
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
    const tunable = Object.keys(schema.properties[service].properties.config.properties);
    expect(tunable.filter((key) => !config.keys.has(key))).toEqual([]);
  });
});

describe('site-specific settings', () => {
  it('the default render leaves out only what names the operator’s Supabase project, and says so', () => {
    const notes = readFileSync(join(chartDir, 'templates', 'NOTES.txt'), 'utf8');
    expect(notes).toMatch(/auth\.issuer is empty/);
    for (const set of SETS.filter((s) => s !== 'default')) {
      const manifests = rendered(set);
      const env = envOf(find(manifests, 'Deployment', componentName('gateway')).spec.template.spec.containers[0], manifests);
      for (const key of SITE_SPECIFIC.gateway ?? []) expect(env.has(key), `${set}: ${key}`).toBe(true);
    }
  });
});

describe('JetStream replicas', () => {
  const replicasOf = (manifests: ReturnType<typeof rendered>) =>
    SERVICES.map(
      (service) => envOf(find(manifests, 'Deployment', componentName(service)).spec.template.spec.containers[0], manifests).get('JETSTREAM_REPLICAS')?.value,
    );

  it('puts every stream on each of the in-cluster NATS servers, up to 3', () => {
    expect(new Set(replicasOf(rendered('default')))).toEqual(new Set(['3']));
    expect(new Set(replicasOf(render({ set: { 'nats.replicas': 5 } })))).toEqual(new Set(['3']));
    expect(new Set(replicasOf(render({ set: { 'nats.replicas': 1 } })))).toEqual(new Set(['1']));
  });

  it('takes nats.streamReplicas for an external NATS', () => {
    const external = render({ set: { 'nats.enabled': false, 'nats.externalUrl': 'nats://nats.example:4222', 'nats.streamReplicas': 3 } });
    expect(new Set(replicasOf(external))).toEqual(new Set(['3']));
  });
});
