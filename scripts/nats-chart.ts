// `pnpm exec tsx scripts/nats-chart.ts`: writes the Helm chart's copy of the NATS permission
// matrix (deploy/helm/lessoncall/files/nats-authorization.conf) from services/kit/src/nats-auth.ts.
// Run it after changing the matrix; deploy/test/nats-auth.test.ts fails while the copy is stale.
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderNatsAuthorizationFromEnv } from '../services/kit/src/index.ts';

export const chartAuthorizationFile = resolve(dirname(fileURLToPath(import.meta.url)), '../deploy/helm/lessoncall/files/nats-authorization.conf');

export const chartAuthorizationHeader =
  '# Generated from services/kit/src/nats-auth.ts by scripts/nats-chart.ts: do not edit.\n# Each $NATS_NKEY_<ROLE> is a public key from the ConfigMap nats.auth.publicKeysConfigMap.\n';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(chartAuthorizationFile, chartAuthorizationHeader + renderNatsAuthorizationFromEnv());
  console.log(`wrote ${chartAuthorizationFile}`);
}
