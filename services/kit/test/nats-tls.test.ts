import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import { connectNats } from '../src/nats';
import { type NatsServer, requireBinary, startNats } from '../src/testing';

/** A CA and a server certificate it signed for 127.0.0.1, made with openssl as cert-manager would issue them. */
function makeCertificates(dir: string, name: string): { ca: string; cert: string; key: string } {
  const openssl = requireBinary(['openssl'], 'openssl');
  const path = (f: string) => join(dir, `${name}-${f}`);
  const run = (...args: string[]) => execFileSync(openssl, args, { stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name} CA`,
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.crt'),
  );
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=nats', '-keyout', path('tls.key'), '-out', path('tls.csr'));
  writeFileSync(path('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'x509',
    '-req',
    '-in',
    path('tls.csr'),
    '-CA',
    path('ca.crt'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    path('ext.cnf'),
    '-out',
    path('tls.crt'),
  );
  return { ca: path('ca.crt'), cert: path('tls.crt'), key: path('tls.key') };
}

describe('NATS over TLS (what the chart runs with nats.tls)', () => {
  let dir: string;
  let nats: NatsServer;
  let certs: { ca: string; cert: string; key: string };
  let stranger: { ca: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lessoncall-nats-tls-'));
    certs = makeCertificates(dir, 'ours');
    stranger = makeCertificates(dir, 'theirs');
    nats = await startNats({ tls: { certFile: certs.cert, keyFile: certs.key } });
  });
  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a service with NATS_TLS_CA_FILE connects as its role over TLS', async () => {
    const creds = nats.credentials!.meeting;
    const nc = await connectNats({
      url: nats.url,
      name: 'tls-test',
      logger: createLogger('tls-test', { level: 'silent' }),
      nkeySeed: creds.NATS_NKEY_SEED,
      inboxPrefix: creds.NATS_INBOX_PREFIX,
      tlsCaFile: certs.ca,
    });
    try {
      expect(nc.info?.tls_required).toBe(true);
      // Still held to its role: the permission matrix applies over TLS as well.
      await expect(nc.request('svc.meeting.end', new Uint8Array(), { timeout: 2_000 })).rejects.toThrow();
      await nc.flush();
    } finally {
      await nc.close();
    }
  });

  it('refuses a server whose certificate another CA signed, and a client that will not do TLS', async () => {
    const creds = nats.credentials!.meeting;
    const auth = { authenticator: nkeyAuthenticator(new TextEncoder().encode(creds.NATS_NKEY_SEED)), inboxPrefix: creds.NATS_INBOX_PREFIX };
    await expect(connect({ servers: nats.url, ...auth, reconnect: false, timeout: 3_000, tls: { caFile: stranger.ca } })).rejects.toThrow(
      /certificate|self.signed|verify/i,
    );
    // No CA given: the system trust store does not know our CA either.
    await expect(connect({ servers: nats.url, ...auth, reconnect: false, timeout: 3_000 })).rejects.toThrow();
  });
});
