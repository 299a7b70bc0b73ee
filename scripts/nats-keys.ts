// `npm run nats:keys -- [--namespace lessoncall] [--release lessoncall] > nats-keys.yaml`: a fresh
// nkey per NATS role, as Kubernetes manifests for the chart's defaults: the ConfigMap of public
// keys (nats.auth.publicKeysConfigMap) and one Secret per service holding its seed
// (nats.auth.seedSecrets), plus Secrets with the booking system's and the operator's seeds to
// hand over. The output holds secrets: apply it (kubectl apply -f) and delete it; never commit it.
import { parseArgs } from 'node:util';
import { type NatsRole, natsPublicKey, natsRoles, newNatsSeed } from '../services/kit/src/index.ts';

const usage = 'usage: npm run nats:keys -- [--namespace <ns>] [--release <release name>]  (prints manifests with secrets to stdout)';

export function natsKeyManifests(options: { namespace: string; release: string; seeds?: Partial<Record<NatsRole, string>> }): string {
  const seeds = Object.fromEntries(natsRoles.map((role) => [role, options.seeds?.[role] ?? newNatsSeed()])) as Record<NatsRole, string>;
  const labels = { 'app.kubernetes.io/part-of': 'lessoncall', 'app.kubernetes.io/instance': options.release };
  const docs = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${options.release}-nats-public-keys`, namespace: options.namespace, labels },
      data: Object.fromEntries(natsRoles.map((role) => [role, natsPublicKey(seeds[role])])),
    },
    ...natsRoles.map((role) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: `${options.release}-nats-${role}`, namespace: options.namespace, labels },
      stringData: { NATS_NKEY_SEED: seeds[role] },
    })),
  ];
  // JSON is YAML: one document per manifest, nothing to escape by hand.
  return `${docs.map((d) => JSON.stringify(d, null, 2)).join('\n---\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { values } = parseArgs({ options: { namespace: { type: 'string', default: 'lessoncall' }, release: { type: 'string', default: 'lessoncall' } } });
    process.stdout.write(natsKeyManifests({ namespace: values.namespace, release: values.release }));
    console.error(
      `NATS keys for ${natsRoles.length} roles: apply with kubectl apply -f, then delete the file. Give the booking system the seed in ${values.release}-nats-booking, and keep ${values.release}-nats-operator for npm run deadletter.`,
    );
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exitCode = 2;
  }
}
