import { describe, expect, it } from 'vitest';
import { SpeakerDetector, type SpeakerLevels, speakerHoldMs } from './speaker';

/** One poll with these remote levels (and our own meter level). */
function levels(remote: Record<string, number>, now: number, more: Partial<SpeakerLevels> = {}): SpeakerLevels {
  return { own: 0, remote: Object.entries(remote).map(([id, v]) => [id, () => v] as const), muted: () => false, stage: undefined, now, ...more };
}

describe('SpeakerDetector', () => {
  it('the louder of two speakers is active', () => {
    const d = new SpeakerDetector();
    expect(d.poll(levels({ a: 0.1, b: 0.3 }, 0))).toBe(true);
    expect(d.active).toBe('b');
    expect(d.poll(levels({ a: 0.5, b: 0.3 }, 250))).toBe(true);
    expect(d.active).toBe('a');
  });

  it('nobody is active below the speaking threshold (background noise)', () => {
    const d = new SpeakerDetector();
    expect(d.poll(levels({ a: 0.03, b: 0.01 }, 0))).toBe(false);
    expect(d.active).toBeUndefined();
  });

  it('stays on the last speaker through a short pause, and lets go after the hold time', () => {
    const d = new SpeakerDetector();
    d.poll(levels({ a: 0.2 }, 0));
    expect(d.poll(levels({ a: 0 }, speakerHoldMs - 1))).toBe(false);
    expect(d.active).toBe('a');
    expect(d.poll(levels({ a: 0 }, speakerHoldMs))).toBe(true);
    expect(d.active).toBeUndefined();
  });

  it('a muted participant is never the speaker, and its level is not even read', () => {
    const d = new SpeakerDetector();
    let read = false;
    d.poll({
      own: 0,
      remote: [
        [
          'muted',
          () => {
            read = true;
            return 0.9;
          },
        ],
        ['open', () => 0.1],
      ],
      muted: (id) => id === 'muted',
      stage: undefined,
      now: 0,
    });
    expect(d.active).toBe('open');
    expect(read).toBe(false);
  });

  it('our own voice counts on the meter’s steeper curve', () => {
    const d = new SpeakerDetector();
    // 0.15 on the meter is 0.03 as an RTP level: below the threshold.
    d.poll(levels({}, 0, { own: 0.15 }));
    expect(d.active).toBeUndefined();
    d.poll(levels({ a: 0.05 }, 250, { own: 0.5 }));
    expect(d.active).toBe('self');
  });

  it('a speaker who leaves is no longer active', () => {
    const d = new SpeakerDetector();
    d.poll(levels({ a: 0.2 }, 0));
    d.forget('b');
    expect(d.active).toBe('a');
    d.forget('a');
    expect(d.active).toBeUndefined();
  });

  it('sfu stage: the first of the room has the large tile until someone speaks; we never take it', () => {
    const d = new SpeakerDetector();
    const stage = ['a', 'b', 'c'];
    d.poll(levels({}, 0, { stage }));
    expect(d.spotlight).toBe('a');
    d.poll(levels({}, 250, { stage, own: 1 }));
    expect(d.active).toBe('self');
    expect(d.spotlight).toBe('a');
    // After the spotlight's own hold (layout.ts), the speaker takes it.
    expect(d.poll(levels({ c: 0.3 }, 10_000, { stage }))).toBe(true);
    expect(d.spotlight).toBe('c');
    d.reset();
    expect([d.active, d.spotlight]).toEqual([undefined, undefined]);
  });
});
