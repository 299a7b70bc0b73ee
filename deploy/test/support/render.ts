import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { helmPath } from '../../tools/helm';
import { chartDir, deployDir } from './paths';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked against the Kubernetes schemas, not typed here
  [key: string]: any;
}

export interface RenderOptions {
  valuesFiles?: string[];
  set?: Record<string, string | number | boolean | null>;
  /** --set-string: for values that must stay strings. */
  setString?: Record<string, string>;
}

/** The release and namespace every test renders with: what skaffold installs. */
export const RELEASE = 'lessoncall';
export const NAMESPACE = 'lessoncall';

export class HelmError extends Error {
  override readonly name = 'HelmError';
  readonly code = 'HELM_FAILED';
  constructor(
    readonly args: string[],
    readonly stderr: string,
  ) {
    super(`helm ${args.join(' ')} failed:\n${stderr}`);
  }
}

export function helm(args: string[]): string {
  try {
    return execFileSync(helmPath(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    // helm lint reports on stdout and only sums up on stderr: keep both.
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new HelmError(args, [e.stdout, e.stderr].filter(Boolean).join('\n') || e.message);
  }
}

function valueArgs(options: RenderOptions): string[] {
  const args: string[] = [];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const [key, value] of Object.entries(options.setString ?? {})) args.push('--set-string', `${key}=${value}`);
  return args;
}

export function templateArgs(options: RenderOptions = {}): string[] {
  return ['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...valueArgs(options)];
}

export function lintArgs(options: RenderOptions = {}): string[] {
  return ['lint', '--strict', chartDir, '--namespace', NAMESPACE, ...valueArgs(options)];
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

export function render(options: RenderOptions = {}): Manifest[] {
  return parseManifests(helm(templateArgs(options)));
}

/** The value sets `npm run deploy:check` lints and renders, and every test looks at. */
export const VALUE_SETS = {
  default: {},
  production: { valuesFiles: [join(deployDir, 'helm', 'values-production.example.yaml')] },
  dev: { valuesFiles: [join(deployDir, 'helm', 'values-dev.yaml')] },
} satisfies Record<string, RenderOptions>;
export type ValueSetName = keyof typeof VALUE_SETS;
export const VALUE_SET_NAMES = Object.keys(VALUE_SETS) as ValueSetName[];

/**
 * More shapes of the chart, rendered and validated like the three above: the alternatives a
 * value switches on (coturn without host networking, external NATS, a Secret the chart creates).
 */
const SITE = { 'auth.supabaseUrl': 'https://abcdefghijklmnopqrst.supabase.co' };
export const VARIANTS = {
  'coturn-nodeport': {
    set: {
      ...SITE,
      'coturn.hostNetwork': false,
      'coturn.service.type': 'NodePort',
      'coturn.ports.listening': 30478,
      'coturn.relayPorts.min': 31000,
      'coturn.relayPorts.max': 31019,
      'coturn.externalIP': '203.0.113.20',
    },
  },
  'coturn-loadbalancer-tls': {
    set: { ...SITE, 'coturn.hostNetwork': false, 'coturn.relayPorts.min': 49160, 'coturn.relayPorts.max': 49179, 'coturn.tls.secretName': 'turn-tls' },
  },
  // NATS clients over TLS, the certificate from a Secret the operator made; the booking system's REST key.
  'nats-tls-secret': {
    set: {
      ...SITE,
      'nats.tls.enabled': true,
      'nats.tls.secretName': 'nats-server-tls',
      'auth.bookingSystem.clientId': 'booking-platform',
      'auth.bookingSystem.jwks.keys[0].kty': 'EC',
      'auth.bookingSystem.jwks.keys[0].crv': 'P-256',
      'auth.bookingSystem.jwks.keys[0].x': 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      'auth.bookingSystem.jwks.keys[0].y': 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      'auth.bookingSystem.jwks.keys[0].kid': 'booking-1',
      'auth.bookingSystem.jwks.keys[0].alg': 'ES256',
    },
  },
  // The certificate from cert-manager, and the public keys given in values (the chart makes their ConfigMap).
  'nats-tls-cert-manager': {
    set: {
      ...SITE,
      'nats.tls.enabled': true,
      'nats.tls.certManager.enabled': true,
      'nats.tls.certManager.issuerRef.name': 'internal-ca',
      'nats.tls.extraDnsNames[0]': 'nats.lessons.example.com',
      'networkPolicy.natsClientsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': 'booking',
    },
    setString: Object.fromEntries(
      ['gateway', 'meeting', 'participant', 'signaling', 'turn', 'media', 'booking', 'operator'].map((role, i) => [
        `nats.auth.publicKeys.${role}`,
        `U${String.fromCharCode(65 + i).repeat(55)}`,
      ]),
    ),
  },
  'external-nats-created-secret': {
    set: {
      ...SITE,
      'nats.enabled': false,
      'nats.externalUrl': 'nats://nats.messaging.svc:4222',
      'secrets.existingSecret': '',
      'secrets.values.databaseUrl': 'postgres://app:pw-9f8e7d6c5b4a@db.example.com:6543/postgres',
      'secrets.values.jwtSecret': 'jwt-secret-0123456789abcdef0123456789abcdef',
      'secrets.values.resumeTokenSecret': 'resume-0123456789abcdef0123456789abcdef',
      'secrets.values.turnSecret': 'turn-0123456789abcdef0123456789abcdef01',
      'secrets.values.janusAdminSecret': 'janus-admin-0123456789abcdef0123456789',
      'secrets.values.janusTokenSecret': 'janus-token-0123456789abcdef0123456789',
      'secrets.values.janusRoomAdminKey': 'janus-room-0123456789abcdef01234567890',
      'secrets.values.s3AccessKeyId': 'AKIAEXAMPLEEXAMPLE00',
      'secrets.values.s3SecretAccessKey': 's3-secret-0123456789abcdef0123456789ab',
      'telemetry.otlpEndpoint': 'http://collector.observability:4318',
      'telemetry.metrics.serviceMonitor.enabled': true,
    },
  },
} satisfies Record<string, RenderOptions>;

const cache = new Map<string, Manifest[]>();

/** Renders once per test file and value set. */
export function rendered(name: ValueSetName | keyof typeof VARIANTS): Manifest[] {
  let manifests = cache.get(name);
  if (!manifests) {
    const options: RenderOptions = name in VALUE_SETS ? VALUE_SETS[name as ValueSetName] : VARIANTS[name as keyof typeof VARIANTS];
    manifests = render(options);
    cache.set(name, manifests);
  }
  return manifests;
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered chart (have: ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')})`);
  return found;
}

export const componentName = (component: string) => `${RELEASE}-${component}`;
