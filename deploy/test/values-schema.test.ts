import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir } from './support/paths';
import { helm, lintArgs, type RenderOptions, render, templateArgs, VALUE_SETS } from './support/render';

/** helm's error for a render that must fail; the test fails if it renders. */
function failure(options: RenderOptions, run: (o: RenderOptions) => string[] = templateArgs): string {
  try {
    helm(run(options));
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`helm ${run(options).join(' ')} succeeded, but these values are broken`);
}

// A wrong value must stop `helm install` before anything reaches the cluster:
// values.schema.json for types, names and required secrets, the templates for what a schema
// cannot say (relations between numbers).
describe('broken values fail helm template and helm lint', () => {
  const cases: [string, RenderOptions, RegExp][] = [
    ['a wrong type', { set: { 'gateway.replicas': 'two' } }, /gateway\/replicas.*want integer/],
    ['a misspelt key', { set: { 'gateway.replica': 2 } }, /additional propert(y|ies) 'replica' not allowed/],
    ['an env var no service reads', { set: { 'meeting.config.JOIN_LEED_MINUTES': 10 } }, /JOIN_LEED_MINUTES/],
    ['a NATS cluster without a quorum', { set: { 'nats.replicas': 2 } }, /nats\/replicas/],
    ['a missing secret reference', { setString: { 'secrets.existingSecret': '' } }, /missing propert(y|ies) .*(databaseUrl|turnSecret)/s],
    [
      'a created Secret without the JWT secret',
      {
        setString: { 'secrets.existingSecret': '', 'secrets.values.databaseUrl': 'postgres://u:p@db:5432/postgres' },
        set: { 'secrets.values.resumeTokenSecret': 'r'.repeat(40), 'secrets.values.turnSecret': 't'.repeat(40) },
      },
      /missing property 'jwtSecret'/,
    ],
    ['a secret value next to an existing Secret', { set: { 'secrets.values.turnSecret': 't'.repeat(40) } }, /secrets\/values/],
    [
      'a secret in values that is too short to be one',
      {
        setString: { 'secrets.existingSecret': '', 'secrets.values.databaseUrl': 'postgres://u:p@db:5432/postgres', 'secrets.values.jwtSecret': 'short' },
        set: { 'secrets.values.resumeTokenSecret': 'r'.repeat(40), 'secrets.values.turnSecret': 't'.repeat(40) },
      },
      /jwtSecret/,
    ],
    [
      'a database URL that is not postgres',
      {
        setString: { 'secrets.existingSecret': '', 'secrets.values.databaseUrl': 'mysql://db/x' },
        set: { 'secrets.values.jwtSecret': 'j'.repeat(40), 'secrets.values.resumeTokenSecret': 'r'.repeat(40), 'secrets.values.turnSecret': 't'.repeat(40) },
      },
      /databaseUrl/,
    ],
    ['the dev Postgres with an existing Secret', { set: { 'devPostgres.enabled': true } }, /existingSecret/],
    [
      'the dev issuer with JWKS verification',
      { set: { 'gateway.devIssuer.enabled': true, 'auth.jwksUrl': 'https://x.supabase.co/auth/v1/.well-known/jwks.json' } },
      /jwksUrl/,
    ],
    [
      'the dev issuer with a real Supabase project',
      // NATS users on, so this is the dev issuer's refusal (nats-auth.test.ts has the other).
      { ...VALUE_SETS.dev, set: { 'nats.auth.enabled': true }, setString: { 'auth.supabaseUrl': 'https://x.supabase.co' } },
      /devIssuer.enabled .* local development cluster only/,
    ],
    [
      'the dev issuer on a public host',
      { ...VALUE_SETS.dev, set: { 'nats.auth.enabled': true }, setString: { 'ingress.host': 'lessons.example.com' } },
      /devIssuer.enabled .* local development cluster only/,
    ],
    ['external NATS without a URL', { set: { 'nats.enabled': false } }, /externalUrl/],
    ['a relay port below 1024', { set: { 'coturn.relayPorts.min': 80 } }, /relayPorts\/min/],
    ['an external IP that is not one', { set: { 'coturn.externalIP': '203.0.113' } }, /externalIP/],
    ['no shutdown timeout to derive grace periods from', { set: { 'config.SHUTDOWN_TIMEOUT_MS': null } }, /missing property 'SHUTDOWN_TIMEOUT_MS'/],
    ['a container without limits', { set: { 'meeting.resources.limits': null } }, /meeting\/resources/],
    ['a root user', { set: { 'securityContext.runAsNonRoot': false } }, /runAsNonRoot/],
    ['an OTLP endpoint that is not a URL', { set: { 'telemetry.otlpEndpoint': 'collector:4318' } }, /otlpEndpoint/],
  ];

  it.each(cases)('%s (schema)', (_, options, message) => {
    expect(failure(options)).toMatch(message);
  });

  it.each(cases.slice(0, 2))('%s (lint)', (_, options, message) => {
    expect(failure(options, lintArgs)).toMatch(message);
  });

  const templateCases: [string, RenderOptions, RegExp][] = [
    [
      'a termination grace shorter than the gateway drain',
      { set: { 'gateway.terminationGracePeriodSeconds': 10 } },
      /terminationGracePeriodSeconds .* must be at least/,
    ],
    [
      'a shutdown timeout that cuts the gateway drain short',
      { set: { 'gateway.config.SHUTDOWN_TIMEOUT_MS': 8000 } },
      /SHUTDOWN_TIMEOUT_MS \(8000\) must exceed its DRAIN_TIMEOUT_MS \(10000\)/,
    ],
    ['more autoscaling minimum than maximum', { set: { 'signaling.autoscaling.minReplicas': 8 } }, /minReplicas \(8\) is above maxReplicas \(6\)/],
    ['a relay range that ends before it starts', { set: { 'coturn.relayPorts.min': 50000, 'coturn.relayPorts.max': 49999 } }, /relayPorts.max/],
    ['thousands of relay ports without host networking', { set: { 'coturn.hostNetwork': false } }, /at most 200 ports/],
    [
      'node ports outside the node port range',
      { set: { 'coturn.hostNetwork': false, 'coturn.service.type': 'NodePort', 'coturn.relayPorts.min': 49160, 'coturn.relayPorts.max': 49170 } },
      /30000-32767/,
    ],
  ];

  it.each(templateCases)('%s (template)', (_, options, message) => {
    expect(failure(options)).toMatch(message);
  });
});

describe('the value sets the checks use', () => {
  it.each(Object.entries(VALUE_SETS))('%s values lint cleanly with --strict', (_, options) => {
    expect(helm(lintArgs(options))).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('holds no secret in values.yaml, nor in the production example', () => {
    for (const file of [join(chartDir, 'values.yaml'), ...VALUE_SETS.production.valuesFiles]) {
      const values = parse(readFileSync(file, 'utf8'));
      expect(values.secrets.values ?? {}, file).toEqual({});
      expect(values.secrets.generate ?? false, file).toBe(false);
    }
  });

  it('renders with a Secret the chart creates from given values', () => {
    const manifests = render({
      setString: { 'secrets.existingSecret': '', 'secrets.values.databaseUrl': 'postgres://u:p@db:5432/postgres' },
      set: {
        'secrets.values.jwtSecret': 'j'.repeat(40),
        'secrets.values.resumeTokenSecret': 'r'.repeat(40),
        'secrets.values.turnSecret': 't'.repeat(40),
        'secrets.values.janusAdminSecret': 'a'.repeat(40),
        'secrets.values.janusTokenSecret': 'k'.repeat(40),
        'secrets.values.janusRoomAdminKey': 'm'.repeat(40),
        'secrets.values.s3AccessKeyId': 'AKIAEXAMPLE',
        'secrets.values.s3SecretAccessKey': 's'.repeat(40),
      },
    });
    const secret = manifests.find((m) => m.kind === 'Secret');
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual([
      'DATABASE_URL',
      'JANUS_ADMIN_SECRET',
      'JANUS_ROOM_ADMIN_KEY',
      'JANUS_TOKEN_SECRET',
      'JWT_SECRET',
      'RESUME_TOKEN_SECRET',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
      'TURN_SECRET',
    ]);
  });
});
