import { create } from '@bufbuild/protobuf';
import { ParticipantSchema, ServerMessageSchema } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from './protocol';
import { TutorControls } from './tutor-controls';

function setup() {
  const notices: string[] = [];
  let changes = 0;
  const t = new TutorControls({ notify: (text) => notices.push(text), changed: () => changes++ });
  return { t, notices, changes: () => changes };
}

const names = { ofUser: (userId: string) => (userId === 'u-sam' ? 'Sam' : undefined) };
const msg = (init: Parameters<typeof create<typeof ServerMessageSchema>>[1]): ServerMessage => create(ServerMessageSchema, init);

describe('TutorControls', () => {
  it('the student side: the ask shows until it is answered, the camera notice until the camera is on again', () => {
    const { t } = setup();
    expect(t.handle(msg({ kind: { case: 'unmuteAsked', value: { targetSessionId: 's1', byUserId: 'u-tutor' } } }), names)).toBe(true);
    expect(t.snapshot().unmuteAsked).toBe(true);
    t.answerUnmute();
    expect(t.snapshot().unmuteAsked).toBe(false);
    t.setCameraOffByTutor(true);
    expect(t.snapshot().cameraOffByTutor).toBe(true);
    t.setCameraOffByTutor(false);
    expect(t.snapshot()).toEqual({ unmuteAsked: false, cameraOffByTutor: false, removed: [] });
  });

  it('the tutor side: a removal lists the user for "allow back"; allowing removes them from the list', () => {
    const { t, notices } = setup();
    t.sent('7', 'remove', 'Sam');
    const closed = [create(ParticipantSchema, { sessionId: 's1', userId: 'u-sam', displayName: 'Sam', leftReason: 'removed' })];
    expect(t.handle(msg({ requestId: '7', kind: { case: 'participantRemoved', value: { removedUserId: 'u-sam', closed } } }), names)).toBe(true);
    expect(t.snapshot().removed).toEqual([{ userId: 'u-sam', displayName: 'Sam' }]);
    t.sent('8', 'allow', 'Sam');
    t.handle(msg({ requestId: '8', kind: { case: 'rejoinAllowed', value: { userId: 'u-sam', wasRemoved: true } } }), names);
    expect(t.snapshot().removed).toEqual([]);
    t.sent('9', 'ask', 'Sam');
    t.handle(msg({ requestId: '9', kind: { case: 'unmuteAskSent', value: {} } }), names);
    // The removal itself is announced by the peerLeft that follows it, not twice.
    expect(notices).toEqual(['Sam may join the lesson again', 'Asked Sam to unmute']);
  });

  it("the tutor's list after a welcome is the server's, whatever was known before", () => {
    const { t } = setup();
    t.handle(msg({ requestId: '1', kind: { case: 'participantRemoved', value: { removedUserId: 'u-old', closed: [] } } }), names);
    t.handle(msg({ kind: { case: 'removals', value: { removed: [{ userId: 'u-sam', displayName: '' }] } } }), names);
    expect(t.snapshot().removed).toEqual([{ userId: 'u-sam', displayName: 'Sam' }]);
  });

  it('leaves every other message to the call, a refusal included, and a rejoin starts clean', () => {
    const { t } = setup();
    t.sent('3', 'remove', 'Sam');
    expect(t.handle(msg({ requestId: '3', kind: { case: 'error', value: { code: 'not_tutor', message: 'no' } } }), names)).toBe(false);
    expect(t.handle(msg({ kind: { case: 'pong', value: {} } }), names)).toBe(false);
    t.handle(msg({ kind: { case: 'unmuteAsked', value: {} } }), names);
    t.reset();
    expect(t.snapshot()).toEqual({ unmuteAsked: false, cameraOffByTutor: false, removed: [] });
  });
});
