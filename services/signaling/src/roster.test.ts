import { ManualClock } from '@lessoncall/kit';
import { describe, expect, it } from 'vitest';
import { Roster } from './roster';

const M1 = 'MID-AAAAAAAAAAAAAAAA';
const M2 = 'MID-BBBBBBBBBBBBBBBB';

describe('Roster', () => {
  it('keeps each meeting’s live sessions from joined and left', () => {
    const r = new Roster(new ManualClock(), 60_000);
    r.join(M1, 'sess-a1');
    r.join(M1, 'sess-a2');
    r.join(M2, 'sess-b1');
    expect(r.isLive(M1, 'sess-a1')).toBe(true);
    expect(r.isLive(M2, 'sess-a1')).toBe(false);
    expect(r.meetingOf('sess-b1')).toBe(M2);
    r.leave(M1, 'sess-a1');
    expect(r.isLive(M1, 'sess-a1')).toBe(false);
    expect(r.sessionsOf(M1)).toEqual(['sess-a2']);
    expect(r.size).toEqual({ meetings: 2, sessions: 2, tombstones: 1 });
  });

  it('does not bring back a session that left: a late joined, or a snapshot read before the leave', () => {
    const clock = new ManualClock();
    const r = new Roster(clock, 60_000);
    r.leave(M1, 'sess-a1'); // left arrives before joined (two publishers)
    expect(r.join(M1, 'sess-a1')).toBe(false);
    const mark = r.mark();
    expect(r.applySnapshot([{ meetingId: M1, sessionId: 'sess-a1' }], mark)).toEqual({ added: 0, removed: 0 });
    expect(r.isLive(M1, 'sess-a1')).toBe(false);
    // Tombstones go once their time is up.
    clock.advance(60_001);
    expect(r.sweep()).toBe(1);
    expect(r.hasLeft('sess-a1')).toBe(false);
  });

  it('a snapshot adds what it lists and removes what it lacks, but not what joined while it was read', () => {
    const r = new Roster(new ManualClock(), 60_000);
    r.join(M1, 'sess-old'); // known before the snapshot, gone at the source
    r.join(M1, 'sess-kept');
    const mark = r.mark();
    r.join(M1, 'sess-new'); // its joined event arrived while the snapshot was in flight
    const changed = r.applySnapshot(
      [
        { meetingId: M1, sessionId: 'sess-kept' },
        { meetingId: M2, sessionId: 'sess-other' },
      ],
      mark,
    );
    expect(changed).toEqual({ added: 1, removed: 1 });
    expect(r.sessionsOf(M1).sort()).toEqual(['sess-kept', 'sess-new']);
    expect(r.isLive(M2, 'sess-other')).toBe(true);
    expect(r.hasLeft('sess-old')).toBe(true);
  });

  it('a snapshot of one meeting touches only that meeting', () => {
    const r = new Roster(new ManualClock(), 60_000);
    r.join(M1, 'sess-a1');
    r.join(M2, 'sess-b1');
    const changed = r.applySnapshot([{ meetingId: M1, sessionId: 'sess-a2' }], r.mark(), M1);
    expect(changed).toEqual({ added: 1, removed: 1 });
    expect(r.sessionsOf(M1)).toEqual(['sess-a2']);
    expect(r.isLive(M2, 'sess-b1')).toBe(true);
  });
});
