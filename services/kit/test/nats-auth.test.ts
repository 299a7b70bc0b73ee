import { connect, ErrorCode, type NatsConnection, type Status } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsPermissions, type NatsRole, natsRoles } from '../src/nats-auth';
import { type Harness, setup } from '../src/testing';

/**
 * Per role: one subject it must not publish to, one it must not subscribe to (each an
 * attack from security issue 18), and one of each it needs. The "needs" side is what keeps
 * the matrix from being tightened past what the service does.
 */
const cases: Record<NatsRole, { denyPublish: string; denySubscribe: string; allowPublish: string; allowSubscribe: string }> = {
  // A gateway cannot forge a lesson's end event or read the participant service's replies.
  gateway: { denyPublish: 'meeting.ended.m1', denySubscribe: '_INBOX.participant.>', allowPublish: 'signal.route.m1', allowSubscribe: 'signal.deliver.s1' },
  // The meeting service cannot inject SDP into a call nor sniff it.
  meeting: { denyPublish: 'signal.route.m1', denySubscribe: 'signal.deliver.s1', allowPublish: 'meeting.ended.m1', allowSubscribe: 'svc.meeting.end' },
  // The participant service cannot end a lesson nor read the gateway's replies (resume tokens).
  participant: {
    denyPublish: 'svc.meeting.end',
    denySubscribe: '_INBOX.gateway.>',
    allowPublish: 'participant.joined.m1',
    allowSubscribe: 'svc.participant.join',
  },
  // Signaling cannot end a lesson nor read meeting events (passcodes).
  signaling: { denyPublish: 'svc.meeting.end', denySubscribe: 'meeting.>', allowPublish: 'signal.deliver.s1', allowSubscribe: 'signal.route.m1' },
  // TURN cannot inject signals nor take over the participant service's requests.
  turn: { denyPublish: 'signal.deliver.s1', denySubscribe: 'svc.participant.join', allowPublish: '$JS.API.INFO', allowSubscribe: 'svc.turn.credentials' },
  // The media service cannot inject signals nor end a lesson; it announces rooms and recordings.
  media: { denyPublish: 'svc.meeting.end', denySubscribe: 'signal.deliver.s1', allowPublish: 'media.room_created.m1', allowSubscribe: 'svc.media.join' },
  // The booking system announces bookings only: it cannot fake meeting events nor read anyone's replies.
  booking: { denyPublish: 'meeting.created.m1', denySubscribe: '_INBOX.>', allowPublish: 'booking.confirmed', allowSubscribe: 'meeting.created.m1' },
};

/** The permissions-violation status nats.js reports for this operation and subject. */
function violation(nc: NatsConnection, operation: 'publish' | 'subscription', subject: string): Promise<Status> {
  // Started before the offending call so the status event cannot be missed.
  return (async () => {
    for await (const s of nc.status()) {
      if (
        s.type === 'error' &&
        s.data === ErrorCode.PermissionsViolation &&
        s.permissionContext?.operation === operation &&
        s.permissionContext.subject === subject
      )
        return s;
    }
    throw new Error('connection closed before the violation was reported');
  })();
}

/** Resolves with the subjects that arrived on `nc` up to and including `sentinel`. */
function receivedUntil(nc: NatsConnection, watch: string[], sentinel: string): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) => {
    for (const subject of [...watch, sentinel]) {
      nc.subscribe(subject, {
        callback: (_err, m) => {
          got.push(m.subject);
          if (m.subject === sentinel) resolve(got);
        },
      });
    }
  });
}

describe('NATS permissions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup({ auth: true });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('refuses an anonymous client', async () => {
    await expect(connect({ servers: h.nats.url, reconnect: false })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
  });

  it('refuses a role that uses another role’s inbox prefix', async () => {
    const nc = await h.connectAs('booking', { inboxPrefix: '_INBOX.gateway' });
    const denied = (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.permissionContext?.operation === 'subscription') return s.permissionContext.subject;
      }
    })();
    // nats.js subscribes its request mux to `<prefix>.<nuid>.*`; the server refuses it.
    const reply = nc.request('booking.confirmed', new Uint8Array(), { timeout: 2_000 }).catch((e: unknown) => e);
    expect(await denied).toMatch(/^_INBOX\.gateway\./);
    await reply;
  });

  for (const role of natsRoles) {
    const c = cases[role];
    describe(role, () => {
      it(`may not publish to ${c.denyPublish}, may publish to ${c.allowPublish}`, async () => {
        const nc = await h.connectAs(role);
        const seen = receivedUntil(h.nc, [c.denyPublish], c.allowPublish);
        await h.nc.flush();
        const denied = violation(nc, 'publish', c.denyPublish);
        nc.publish(c.denyPublish);
        nc.publish(c.allowPublish);
        expect((await denied).permissionContext).toMatchObject({ operation: 'publish', subject: c.denyPublish });
        // Same publisher, same receiver: the allowed message arriving alone proves the denied one was dropped.
        expect(await seen).toEqual([c.allowPublish]);
      });

      it(`may not subscribe to ${c.denySubscribe}, may subscribe to ${c.allowSubscribe}`, async () => {
        const nc = await h.connectAs(role);
        const denied = violation(nc, 'subscription', c.denySubscribe);
        const forbidden: string[] = [];
        const sub = nc.subscribe(c.denySubscribe, { callback: (err, m) => (err ? undefined : forbidden.push(m.subject)) });
        const allowed = new Promise<string>((resolve) => nc.subscribe(c.allowSubscribe, { callback: (_e, m) => resolve(m.subject) }));
        expect((await denied).permissionContext).toMatchObject({ operation: 'subscription', subject: c.denySubscribe });
        await sub.closed.catch(() => {});
        expect(sub.isClosed()).toBe(true);
        await nc.flush();
        // Publish to a subject the refused subscription would have matched, then to the allowed one.
        h.nc.publish(c.denySubscribe.replace('>', 'x').replace('*', 'x'));
        h.nc.publish(c.allowSubscribe.replace('>', 'x').replace('*', 'x'));
        expect(await allowed).toBe(c.allowSubscribe.replace('>', 'x').replace('*', 'x'));
        expect(forbidden).toEqual([]);
      });
    });
  }

  for (const role of natsRoles.filter((r) => natsPermissions(r).allowResponses)) {
    it(`${role} answers requests on its own endpoints without publishing to _INBOX.>`, async () => {
      const nc = await h.connectAs(role);
      const subject = natsPermissions(role).subscribe[0] ?? '';
      const endpoint = subject.replace('*', 'probe');
      nc.subscribe(subject, { callback: (_e, m) => m.respond(new TextEncoder().encode('pong')) });
      await nc.flush();
      const reply = await h.nc.request(endpoint, new Uint8Array(), { timeout: 5_000 });
      expect(new TextDecoder().decode(reply.data)).toBe('pong');
      // …but it cannot publish to a reply subject it was not asked on.
      const denied = violation(nc, 'publish', '_INBOX.gateway.stolen');
      nc.publish('_INBOX.gateway.stolen');
      expect((await denied).permissionContext?.operation).toBe('publish');
    });
  }
});
