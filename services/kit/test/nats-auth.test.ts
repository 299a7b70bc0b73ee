import { errors, type NatsConnection, type PermissionViolationError } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeetingService, ParticipantService, rpcSubject, TurnService } from '@lessoncall/proto';
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
  // The operator replays dead letters: it reads no event off the wire and no service's replies.
  operator: { denyPublish: 'signal.deliver.s1', denySubscribe: 'meeting.>', allowPublish: 'booking.confirmed', allowSubscribe: '_INBOX.operator.x' },
  // The media service cannot inject signals nor end a lesson; it announces rooms and recordings.
  media: { denyPublish: 'svc.meeting.end', denySubscribe: 'signal.deliver.s1', allowPublish: 'media.room_created.m1', allowSubscribe: 'svc.media.join' },
  // The booking system announces bookings only: it cannot fake meeting events nor read anyone's replies.
  booking: { denyPublish: 'meeting.created.m1', denySubscribe: '_INBOX.>', allowPublish: 'booking.confirmed', allowSubscribe: 'meeting.created.m1' },
};

/** The permissions violation nats.js reports for this operation and subject. */
function violation(nc: NatsConnection, operation: 'publish' | 'subscription', subject: string): Promise<PermissionViolationError> {
  // Started before the offending call so the status event cannot be missed.
  return (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError && s.error.operation === operation && s.error.subject === subject)
        return s.error;
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

type Who = NatsRole | 'outsider';
const everyone: readonly Who[] = [...natsRoles, 'outsider'];

/**
 * The attacks of issue 18, item 3, as rules: the one subject (or stream API call) an attacker
 * would use and the only users who may use it. Each rule is tried by every role and by an
 * outsider (an authenticated client with no role); the users listed must succeed, everybody
 * else must get a permissions violation. Widening the matrix past a rule fails here.
 */
const rules: { attack: string; op: 'publish' | 'subscribe'; subject: string; only: readonly Who[] }[] = [
  { attack: 'end any lesson', op: 'publish', subject: rpcSubject(MeetingService.method.endMeeting), only: ['gateway'] },
  { attack: 'take over passcode checks', op: 'subscribe', subject: rpcSubject(MeetingService.method.verifyJoin), only: ['meeting'] },
  { attack: 'answer joins in the participant service’s place', op: 'subscribe', subject: rpcSubject(ParticipantService.method.join), only: ['participant'] },
  { attack: 'mint TURN credentials', op: 'publish', subject: rpcSubject(TurnService.method.turnCredentials), only: ['participant'] },
  { attack: 'inject SDP into a call', op: 'publish', subject: 'signal.deliver.s1', only: ['gateway', 'signaling'] },
  { attack: 'inject SDP through signaling', op: 'publish', subject: 'signal.route.m1', only: ['gateway'] },
  { attack: 'sniff SDP and ICE candidates', op: 'subscribe', subject: 'signal.deliver.*', only: ['gateway'] },
  { attack: 'create a meeting for any booking id', op: 'publish', subject: 'booking.confirmed', only: ['booking', 'operator'] },
  { attack: 'forge a meeting event', op: 'publish', subject: 'meeting.ended.m1', only: ['meeting', 'operator'] },
  { attack: 'read meeting.created off the wire', op: 'subscribe', subject: 'meeting.created.*', only: ['booking'] },
  { attack: 'read passcodes and links off the wire', op: 'subscribe', subject: 'meeting_link.created.*', only: ['booking'] },
  { attack: 'read every passcode from MEETING_LINKS', op: 'publish', subject: '$JS.API.CONSUMER.CREATE.MEETING_LINKS.peek', only: ['booking'] },
  { attack: 'send the booking system a forged link', op: 'publish', subject: 'meeting_link.created.m1', only: ['meeting'] },
  // The media service consumes MEETINGS too (a meeting's end closes its room); no passcode is in it any more.
  { attack: 'read every meeting event from MEETINGS', op: 'publish', subject: '$JS.API.CONSUMER.CREATE.MEETINGS.peek', only: ['participant', 'media'] },
  { attack: 'read MEETINGS message by message', op: 'publish', subject: '$JS.API.STREAM.MSG.GET.MEETINGS', only: [] },
  { attack: 'read MEETINGS through direct get', op: 'publish', subject: '$JS.API.DIRECT.GET.MEETINGS', only: [] },
  { attack: 'delete a stream', op: 'publish', subject: '$JS.API.STREAM.DELETE.BOOKINGS', only: [] },
  ...natsRoles.map((role) => ({
    attack: `read the ${role}'s replies (resume tokens, TURN credentials, JetStream batches)`,
    op: 'subscribe' as const,
    subject: `_INBOX.${role}.>`,
    only: [role],
  })),
];

/** A concrete subject a subscription to `pattern` receives. */
const concrete = (pattern: string) => pattern.replace('>', 'x').replaceAll('*', 'x');

describe('NATS permissions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('refuses an anonymous client', async () => {
    await expect(connect({ servers: h.nats.url, reconnect: false })).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  it('refuses a role that uses another role’s inbox prefix', async () => {
    const nc = await h.connectAs('booking', { inboxPrefix: '_INBOX.gateway' });
    const denied = (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error instanceof errors.PermissionViolationError && s.error.operation === 'subscription') return s.error.subject;
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
        expect(await denied).toMatchObject({ operation: 'publish', subject: c.denyPublish });
        // Same publisher, same receiver: the allowed message arriving alone proves the denied one was dropped.
        expect(await seen).toEqual([c.allowPublish]);
      });

      it(`may not subscribe to ${c.denySubscribe}, may subscribe to ${c.allowSubscribe}`, async () => {
        const nc = await h.connectAs(role);
        const denied = violation(nc, 'subscription', c.denySubscribe);
        const forbidden: string[] = [];
        const sub = nc.subscribe(c.denySubscribe, {
          callback: (err, m) => {
            if (!err) forbidden.push(m.subject);
          },
        });
        const allowed = new Promise<string>((resolve) => nc.subscribe(c.allowSubscribe, { callback: (_e, m) => resolve(m.subject) }));
        expect(await denied).toMatchObject({ operation: 'subscription', subject: c.denySubscribe });
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

  /** Tries one operation as `who`: 'allowed' once the message went through, 'denied' on the server's violation. */
  async function attempt(who: Who, op: 'publish' | 'subscribe', subject: string): Promise<'allowed' | 'denied'> {
    const nc = await h.connectAs(who);
    try {
      const denied = violation(nc, op === 'publish' ? 'publish' : 'subscription', subject).then(() => 'denied' as const);
      if (op === 'publish') {
        // The driver sees every subject: the message reaching it is the proof that it went through.
        const through = new Promise<'allowed'>((resolve) => h.nc.subscribe(subject, { max: 1, callback: () => resolve('allowed') }));
        await h.nc.flush();
        nc.publish(subject);
        return await Promise.race([denied, through]);
      }
      const through = new Promise<'allowed'>((resolve) => nc.subscribe(subject, { callback: (err) => (err ? undefined : resolve('allowed')) }));
      await nc.flush().catch(() => {});
      h.nc.publish(concrete(subject));
      return await Promise.race([denied, through]);
    } finally {
      await nc.close();
    }
  }

  for (const rule of rules) {
    it(`${rule.attack}: ${rule.op} ${rule.subject} only by ${rule.only.join(', ') || 'nobody'}`, async () => {
      // One user at a time: the driver's view of a publish must not mix two users' messages.
      const outcomes: Record<string, string> = {};
      for (const who of everyone) outcomes[who] = await attempt(who, rule.op, rule.subject);
      expect(outcomes).toEqual(Object.fromEntries(everyone.map((who) => [who, rule.only.includes(who) ? 'allowed' : 'denied'])));
    });
  }

  it('an outsider may not even read its own inbox', async () => {
    expect(await attempt('outsider', 'subscribe', '_INBOX.outsider.>')).toBe('denied');
  });

  for (const role of natsRoles.filter((r) => natsPermissions(r).allowResponses)) {
    it(`${role} answers requests on its own endpoints without publishing to _INBOX.>`, async () => {
      const nc = await h.connectAs(role);
      const subject = natsPermissions(role).subscribe[0] ?? '';
      const endpoint = subject.replace('*', 'probe');
      nc.subscribe(subject, {
        callback: (_e, m) => {
          m.respond(new TextEncoder().encode('pong'));
        },
      });
      await nc.flush();
      const reply = await h.nc.request(endpoint, new Uint8Array(), { timeout: 5_000 });
      expect(new TextDecoder().decode(reply.data)).toBe('pong');
      // …but it cannot publish to a reply subject it was not asked on.
      const denied = violation(nc, 'publish', '_INBOX.gateway.stolen');
      nc.publish('_INBOX.gateway.stolen');
      expect((await denied).operation).toBe('publish');
    });
  }
});
