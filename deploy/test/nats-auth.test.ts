import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOf } from './support/k8s';
import { chartDir, repoDir, SERVICES } from './support/paths';
import { parse } from 'yaml';
import { componentName, find, HelmError, parseManifests, render, rendered, VALUE_SET_NAMES, VARIANTS } from './support/render';
import { validateManifest } from './support/validate';

// The chart's NATS authorization: the permission matrix of services/kit/src/nats-auth.ts (the
// same one the harness and `npm start` run), one nkey per role, each service's seed in a Secret
// of its own, TLS for client connections.

interface NatsAuthModule {
  natsRoles: readonly string[];
  natsKeyVariable(role: string): string;
  natsPublicKey(seed: string): string;
  newNatsSeed(): string;
}
interface NatsChartModule {
  chartAuthorizationFile: string;
  chartAuthorizationHeader: string;
}
// Imported by path, as env.test.ts does with the services' configs: deploy/ is no workspace
// dependent of the services.
const kit = (await import(join(repoDir, 'services/kit/src/nats-auth.ts'))) as NatsAuthModule & { renderNatsAuthorizationFromEnv(): string };
const chart = (await import(join(repoDir, 'scripts/nats-chart.ts'))) as NatsChartModule;
const keysScript = (await import(join(repoDir, 'scripts/nats-keys.ts'))) as { natsKeyManifests(o: { namespace: string; release: string }): string };

const SETS_WITH_AUTH = [...VALUE_SET_NAMES.filter((s) => s !== 'dev'), ...(Object.keys(VARIANTS) as (keyof typeof VARIANTS)[])];
const natsConf = (set: Parameters<typeof rendered>[0]) => find(rendered(set), 'ConfigMap', componentName('nats')).data['nats.conf'] as string;

describe('the NATS permission matrix in the chart', () => {
  it('files/nats-authorization.conf is what services/kit/src/nats-auth.ts renders (else: pnpm exec tsx scripts/nats-chart.ts)', () => {
    expect(readFileSync(chart.chartAuthorizationFile, 'utf8')).toBe(chart.chartAuthorizationHeader + kit.renderNatsAuthorizationFromEnv());
    expect(chart.chartAuthorizationFile).toBe(join(chartDir, 'files', 'nats-authorization.conf'));
  });

  it.each(SETS_WITH_AUTH.filter((s) => s !== 'external-nats-created-secret'))(
    '%s values: nats.conf carries that matrix, every key from the public keys ConfigMap',
    (set) => {
      const conf = natsConf(set);
      const block = kit.renderNatsAuthorizationFromEnv();
      // Indented inside the ConfigMap's literal block, the text is the same line for line.
      expect(conf.split('\n').map((l) => l.trim())).toEqual(expect.arrayContaining(block.split('\n').map((l) => l.trim())));
      const nats = find(rendered(set), 'StatefulSet', componentName('nats')).spec.template.spec.containers[0];
      const env = new Map<string, { valueFrom?: { configMapKeyRef?: { name: string; key: string } } }>(nats.env.map((e: { name: string }) => [e.name, e]));
      for (const role of kit.natsRoles) {
        expect(env.get(kit.natsKeyVariable(role))?.valueFrom?.configMapKeyRef, role).toEqual({ name: 'lessoncall-nats-public-keys', key: role });
      }
    },
  );

  it('the rendered nats.conf is a config nats-server accepts, and refuses with a role’s key missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lessoncall-chart-nats-'));
    try {
      const file = join(dir, 'nats.conf');
      // Without TLS: the certificate files exist only in the pod.
      writeFileSync(file, natsConf('default'));
      const keys = Object.fromEntries(kit.natsRoles.map((role) => [kit.natsKeyVariable(role), kit.natsPublicKey(kit.newNatsSeed())]));
      const check = (env: Record<string, string>) =>
        execFileSync('nats-server', ['-t', '-c', file], {
          env: { PATH: process.env.PATH ?? '', SERVER_NAME: 'lessoncall-nats-0', ...env },
          encoding: 'utf8',
          stdio: 'pipe',
        });
      expect(() => check(keys)).not.toThrow();
      const { NATS_NKEY_TURN: _, ...withoutTurn } = keys;
      expect(() => check(withoutTurn)).toThrow(/NATS_NKEY_TURN/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(SETS_WITH_AUTH)('%s values: each service connects with its own seed from its own Secret, replies under its own inbox', (set) => {
    const manifests = rendered(set);
    const secrets = new Set<string>();
    for (const service of SERVICES) {
      const container = find(manifests, 'Deployment', componentName(service)).spec.template.spec.containers[0];
      const env = envOf(container, manifests);
      expect(env.get('NATS_NKEY_SEED')?.valueFrom?.secretKeyRef, service).toEqual({ name: `lessoncall-nats-${service}`, key: 'NATS_NKEY_SEED' });
      expect(env.get('NATS_INBOX_PREFIX')?.value, service).toBe(`_INBOX.${service}`);
      secrets.add(env.get('NATS_NKEY_SEED').valueFrom.secretKeyRef.name);
    }
    expect(secrets.size).toBe(SERVICES.length);
    // No seed anywhere in plain sight: not in a ConfigMap, not in an env value.
    const plain = JSON.stringify(manifests.filter((m) => m.kind !== 'Secret'));
    expect(plain).not.toMatch(/SU[A-Z2-7]{56}/);
  });

  it('public keys given in values become the ConfigMap; a missing or malformed one fails the render', () => {
    const cm = find(rendered('nats-tls-cert-manager'), 'ConfigMap', 'lessoncall-nats-public-keys');
    expect(Object.keys(cm.data).sort()).toEqual([...kit.natsRoles].sort());
    const keys = Object.fromEntries(kit.natsRoles.map((role) => [`nats.auth.publicKeys.${role}`, kit.natsPublicKey(kit.newNatsSeed())]));
    expect(() => render({ setString: keys })).not.toThrow();
    const { 'nats.auth.publicKeys.operator': _, ...noOperator } = keys;
    expect(() => render({ setString: noOperator })).toThrow(HelmError);
    expect(() => render({ setString: { ...keys, 'nats.auth.publicKeys.gateway': 'SUAIEHN6ZJTDGEKS7YNZWSVKRLVEHF5M6HCNVYAKBXNYO3BBE76RUV4PME' } })).toThrow(
      /gateway|pattern/,
    );
  });

  it('npm run nats:keys makes exactly what the chart’s defaults refer to: the public keys ConfigMap and a seed Secret per role', async () => {
    const docs = parseManifests(keysScript.natsKeyManifests({ namespace: 'lessoncall', release: 'lessoncall' }));
    for (const doc of docs) expect(await validateManifest(doc), `${doc.kind}/${doc.metadata.name}`).toEqual([]);
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')).nats.auth;
    const cm = find(docs, 'ConfigMap', values.publicKeysConfigMap);
    for (const role of kit.natsRoles) {
      const name = values.seedSecrets[role] ?? `lessoncall-nats-${role}`;
      const seed = find(docs, 'Secret', name).stringData[values.seedKey];
      expect(cm.data[role], role).toBe(kit.natsPublicKey(seed));
    }
  });

  it('without authorization only for a development cluster: refused with a Supabase project, a JWKS or an ingress host', () => {
    expect(natsConf('dev')).not.toMatch(/authorization/);
    const sites: Record<string, string>[] = [
      { 'auth.supabaseUrl': 'https://abcdefghijklmnopqrst.supabase.co' },
      { 'auth.jwksUrl': 'https://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json' },
      { 'ingress.host': 'lessons.example.com' },
    ];
    for (const site of sites) {
      expect(() => render({ set: { 'nats.auth.enabled': false, ...site } })).toThrow(/nats\.auth\.enabled: false/);
    }
  });
});

describe('NATS over TLS', () => {
  it('from a Secret: the servers use its certificate, the services get tls:// and its ca.crt only', () => {
    const manifests = rendered('nats-tls-secret');
    expect(natsConf('nats-tls-secret')).toMatch(/tls \{\s+cert_file: \/etc\/nats-tls\/tls\.crt\s+key_file: \/etc\/nats-tls\/tls\.key/);
    const nats = find(manifests, 'StatefulSet', componentName('nats')).spec.template.spec;
    expect(nats.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'nats-server-tls' } });
    for (const service of SERVICES) {
      const pod = find(manifests, 'Deployment', componentName(service)).spec.template.spec;
      const env = envOf(pod.containers[0], manifests);
      expect(env.get('NATS_URL')?.value).toBe('tls://lessoncall-nats:4222');
      expect(env.get('NATS_TLS_CA_FILE')?.value).toBe('/etc/nats-ca/ca.crt');
      expect(pod.volumes).toContainEqual({ name: 'nats-ca', secret: { secretName: 'nats-server-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'nats-ca', mountPath: '/etc/nats-ca', readOnly: true });
    }
    expect(rendered('default').some((m) => m.kind === 'Certificate')).toBe(false);
    expect(natsConf('default')).not.toMatch(/cert_file/);
  });

  it('from cert-manager: a Certificate for the service names into that Secret, from the given issuer', () => {
    const cert = find(rendered('nats-tls-cert-manager'), 'Certificate', componentName('nats'));
    expect(cert.spec).toMatchObject({
      secretName: 'lessoncall-nats-tls',
      issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      dnsNames: [
        'lessoncall-nats',
        'lessoncall-nats.lessoncall',
        'lessoncall-nats.lessoncall.svc',
        'lessoncall-nats.lessoncall.svc.cluster.local',
        'nats.lessons.example.com',
      ],
    });
    expect(() => render({ set: { 'nats.tls.enabled': true, 'nats.tls.certManager.enabled': true } })).toThrow(/issuerRef\.name is required/);
    expect(() => render({ set: { 'nats.tls.certManager.enabled': true, 'nats.tls.certManager.issuerRef.name': 'ca' } })).toThrow(/needs nats\.tls\.enabled/);
  });

  it('lets the booking system reach the client port when networkPolicy.natsClientsFrom says so, and nobody else', () => {
    const policy = (set: Parameters<typeof rendered>[0]) => find(rendered(set), 'NetworkPolicy', componentName('nats')).spec.ingress;
    const clientPeers = (set: Parameters<typeof rendered>[0]) =>
      policy(set)
        .filter((rule: { ports: { port: number }[] }) => rule.ports.some((p) => p.port === 4222))
        .flatMap((rule: { from: unknown[] }) => rule.from);
    expect(clientPeers('default')).toHaveLength(1);
    expect(clientPeers('nats-tls-cert-manager')).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'booking' } } });
  });
});

describe("the booking system's REST credential", () => {
  it('its client id and public keys reach the gateway; no private key is accepted in values', () => {
    const manifests = rendered('nats-tls-secret');
    const env = envOf(find(manifests, 'Deployment', componentName('gateway')).spec.template.spec.containers[0], manifests);
    expect(env.get('BOOKING_CLIENT_ID')?.value).toBe('booking-platform');
    expect(JSON.parse(env.get('BOOKING_JWKS')?.value).keys[0]).toMatchObject({ kty: 'EC', kid: 'booking-1' });
    expect(
      envOf(find(rendered('default'), 'Deployment', componentName('gateway')).spec.template.spec.containers[0], rendered('default')).has('BOOKING_CLIENT_ID'),
    ).toBe(false);
    expect(() => render({ set: { ...VARIANTS['nats-tls-secret'].set, 'auth.bookingSystem.jwks.keys[0].d': 'private-part' } })).toThrow(/bookingSystem/);
  });
});
