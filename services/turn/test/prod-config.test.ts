import { randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { type CoturnServer, startCoturn, waitFor } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iceServersFor } from '../src/index';
import { echoPeer, uclient } from './support/uclient';
import { relayCall } from './support/wrtc';

const secret = 'prod-config-test-secret-0123456789';
/** An ordinary public address (outside every denied range) for permissions coturn must grant. */
const PUBLIC_PEER = '8.8.8.8';

/** The denied-peer-ip ranges of turnserver.prod.conf (IPv4), to find an address of this host it allows. */
const deniedV4 = [
  ['0.0.0.0', '0.255.255.255'],
  ['10.0.0.0', '10.255.255.255'],
  ['100.64.0.0', '100.127.255.255'],
  ['127.0.0.0', '127.255.255.255'],
  ['169.254.0.0', '169.254.255.255'],
  ['172.16.0.0', '172.31.255.255'],
  ['192.0.0.0', '192.0.0.255'],
  ['192.168.0.0', '192.168.255.255'],
  ['198.18.0.0', '198.19.255.255'],
  ['192.0.2.0', '192.0.2.255'],
  ['198.51.100.0', '198.51.100.255'],
  ['203.0.113.0', '203.0.113.255'],
  ['240.0.0.0', '255.255.255.255'],
];
const ipv4 = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const isDenied = (a: string) => deniedV4.some(([lo, hi]) => ipv4(a) >= ipv4(lo!) && ipv4(a) <= ipv4(hi!));
const allowedLocalAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal && !isDenied(i.address))?.address;

/**
 * deploy/coturn/turnserver.prod.conf as it is, except that it listens on loopback (and without
 * TLS) so that the test can reach it: its peer rules must keep a relay from reaching this host
 * or any private network.
 */
describe('the production coturn config', () => {
  let coturn: CoturnServer;
  // A user of its own per test: coturn's user-quota counts allocations per username.
  const credential = (userId: string = randomUUID()) => {
    const turn = iceServersFor({ TURN_SECRET: secret, TURN_URLS: ['turn:127.0.0.1'], STUN_URLS: [], TURN_TTL_SECONDS: 3600 }, userId, new Date())
      .iceServers[0]!;
    return { username: turn.username, credential: turn.credential };
  };

  beforeAll(async () => {
    coturn = await startCoturn({ secret, config: 'prod', relayPorts: 200 });
  });
  afterAll(() => coturn?.stop());

  // Loopback is refused twice over: by the denied-peer-ip rule and by coturn itself, since the
  // file does not say allow-loopback-peers (only the local config does).
  it('refuses to relay to 127.0.0.1: the permission is forbidden and the peer receives nothing', async () => {
    const peer = await echoPeer('127.0.0.1');
    try {
      const r = await uclient({ port: coturn.port, ...credential(), peer: '127.0.0.1', peerPort: peer.port, messages: 5 });
      expect(r.allocationFailed, r.output).toBe(false);
      expect(r.peerForbidden, r.output).toBe(true);
      expect(r.received).toBe(0);
      expect(peer.received()).toBe(0);
    } finally {
      await peer.close();
    }
  });

  it('two WebRTC peers forced to relay cannot reach each other through it (their relays are on loopback here)', async () => {
    const { username, credential: password } = credential();
    const call = relayCall([{ urls: [`turn:127.0.0.1:${coturn.port}?transport=udp`], username, credential: password }], 5_000);
    await expect(call).rejects.toThrow(/did not connect|ICE failed/);
  });

  // `rule`: coturn's log names the denied-peer-ip range that refused it (the file's rule, not a
  // built-in default). 0/8 and 240/4 coturn also refuses by itself, before the rule is consulted
  // (240/4 is denied in the file anyway, in case a build stops doing so).
  it.each([
    { name: 'private 10/8', address: '10.0.0.1', rule: true },
    { name: 'private 172.16/12', address: '172.16.0.1', rule: true },
    { name: 'private 192.168/16', address: '192.168.1.1', rule: true },
    { name: 'CGNAT 100.64/10', address: '100.64.0.1', rule: true },
    { name: 'link-local / cloud metadata', address: '169.254.169.254', rule: true },
    { name: 'benchmarking 198.18/15', address: '198.18.0.1', rule: true },
    { name: 'IETF 192.0.0/24', address: '192.0.0.170', rule: true },
    { name: 'documentation 192.0.2/24', address: '192.0.2.1', rule: true },
    { name: 'documentation 198.51.100/24', address: '198.51.100.7', rule: true },
    { name: 'documentation 203.0.113/24', address: '203.0.113.1', rule: true },
    { name: 'reserved 240/4', address: '240.0.0.1', rule: false },
    { name: '"this network" 0/8', address: '0.1.2.3', rule: false },
  ])('refuses to relay to a $name address ($address)', async ({ address, rule }) => {
    const r = await uclient({ port: coturn.port, ...credential(), peer: address, messages: 1 });
    expect(r.allocationFailed, r.output).toBe(false);
    expect(r.peerForbidden, r.output).toBe(true);
    expect(r.sent).toBe(0);
    if (rule) await waitFor(`coturn logs the denied ${address}`, () => coturn.output().includes(`A peer IP ${address} denied in the range`), 2_000);
  });

  it('still relays to a public address with the same kind of credential: the refusals are the peer rules', async () => {
    // A public address: the permission is granted and coturn takes the data (its loopback-bound
    // relay socket cannot route it anywhere from here).
    const r = await uclient({ port: coturn.port, ...credential(), peer: PUBLIC_PEER, messages: 1, until: (p) => p.sent >= 1, timeoutMs: 10_000 });
    expect(r.allocationFailed, r.output).toBe(false);
    expect(r.peerForbidden, r.output).toBe(false);
    expect(r.sent, r.output).toBeGreaterThanOrEqual(1);
    // With an address of this host outside the denied ranges, the whole round trip is checked.
    if (allowedLocalAddress) {
      const peer = await echoPeer(allowedLocalAddress);
      try {
        const echo = await uclient({
          port: coturn.port,
          ...credential(),
          peer: allowedLocalAddress,
          peerPort: peer.port,
          messages: 3,
          until: (p) => p.received >= 3,
        });
        expect(echo.peerForbidden, echo.output).toBe(false);
        expect(echo.received, echo.output).toBeGreaterThanOrEqual(3);
        expect(peer.received()).toBeGreaterThanOrEqual(3);
      } finally {
        await peer.close();
      }
    }
  });

  it('limits one user to user-quota (12) concurrent allocations', async () => {
    const user = credential();
    const r = await uclient({ port: coturn.port, ...user, peer: PUBLIC_PEER, messages: 1, clients: 13, until: (p) => p.quotaReached, timeoutMs: 10_000 });
    expect(r.quotaReached, r.output).toBe(true);
    // Another user still gets a relay.
    const other = await uclient({ port: coturn.port, ...credential(), peer: PUBLIC_PEER, messages: 1, until: (p) => p.sent >= 1, timeoutMs: 10_000 });
    expect(other.allocationFailed, other.output).toBe(false);
  });
});
