import { describe, expect, it } from 'vitest';
import type { ParticipantView } from './protocol';
import { Roster } from './roster';

const person = (sessionId: string, userId: string, displayName: string): ParticipantView => ({
  sessionId,
  userId,
  userType: 'student',
  displayName,
  audioMuted: false,
  cameraOff: false,
  connected: true,
  joinedAt: undefined,
});

describe('Roster', () => {
  it('keeps join order, says who is new, and names people (or "Someone")', () => {
    const r = new Roster();
    expect(r.put(person('s2', 'u2', 'Sam'))).toBe(true);
    expect(r.put(person('s1', 'u1', 'Ada'))).toBe(true);
    expect(r.put({ ...person('s2', 'u2', 'Sam B.'), connected: false })).toBe(false); // an update keeps its place
    expect(r.list().map((p) => [p.sessionId, p.displayName, p.connected])).toEqual([
      ['s2', 'Sam B.', false],
      ['s1', 'Ada', true],
    ]);
    expect(r.nameOf('s1')).toBe('Ada');
    expect(r.nameOf('nobody')).toBe('Someone');
    expect(r.nameOfUser('u2')).toBe('Sam B.');
    expect(r.nameOfUser('u9')).toBeUndefined();
  });

  it('a mute change updates only its kind, and only for a session it knows', () => {
    const r = new Roster();
    r.put(person('s1', 'u1', 'Ada'));
    expect(r.setMuted('s1', 'audio', true)).toBe(true);
    expect(r.setMuted('s1', 'video', true)).toBe(true);
    expect(r.get('s1')).toMatchObject({ audioMuted: true, cameraOff: true });
    expect(r.setMuted('s1', 'audio', false)).toBe(true);
    expect(r.get('s1')).toMatchObject({ audioMuted: false, cameraOff: true });
    expect(r.setMuted('s9', 'audio', true)).toBe(false);
    expect(r.has('s9')).toBe(false);
  });

  it('names the sessions a resumed welcome no longer lists; remove and clear forget them', () => {
    const r = new Roster();
    for (const p of [person('s1', 'u1', 'Ada'), person('s2', 'u2', 'Sam'), person('s3', 'u3', 'Lin')]) r.put(p);
    expect(r.goneFrom([person('s2', 'u2', 'Sam'), person('s4', 'u4', 'New')])).toEqual(['s1', 's3']);
    r.remove('s1');
    expect(r.sessionIds()).toEqual(['s2', 's3']);
    r.clear();
    expect(r.list()).toEqual([]);
  });
});
