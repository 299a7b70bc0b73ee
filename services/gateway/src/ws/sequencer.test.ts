import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SignalSequencer } from './sequencer';

const signal = (n: number) => ({ type: 'candidate', sdp: String(n) });

function sequencer(maxHeld = 4) {
  const delivered: number[] = [];
  const gaps: number[] = [];
  let late = 0;
  const s = new SignalSequencer({
    waitMs: 250,
    maxHeld,
    deliver: (_from, sig, seq) => delivered.push(seq === 0 ? Number((sig as { sdp: string }).sdp) : seq),
    onGap: (_from, missing) => gaps.push(missing),
    onLate: () => {
      late += 1;
    },
  });
  return { s, delivered, gaps, late: () => late };
}

describe('SignalSequencer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('puts a sender back in order, the first signals included', () => {
    const { s, delivered, gaps } = sequencer();
    for (const n of [2, 3, 1, 5, 4]) s.push('a', signal(n), n);
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
    expect(gaps).toEqual([]);
  });

  it('gives up on a hole after the wait, counts it, and drops the straggler when it comes', () => {
    const { s, delivered, gaps, late } = sequencer();
    for (const n of [1, 2, 4, 5]) s.push('a', signal(n), n);
    expect(delivered).toEqual([1, 2]);
    vi.advanceTimersByTime(249);
    expect(delivered).toEqual([1, 2]);
    vi.advanceTimersByTime(1);
    expect(delivered).toEqual([1, 2, 4, 5]);
    expect(gaps).toEqual([1]);
    s.push('a', signal(3), 3);
    expect(delivered).toEqual([1, 2, 4, 5]);
    expect(late()).toBe(1);
  });

  it('gives up at once when more are held than it may keep', () => {
    const { s, delivered, gaps } = sequencer(2);
    s.push('a', signal(1), 1);
    for (const n of [5, 6, 7]) s.push('a', signal(n), n);
    expect(delivered).toEqual([1, 5, 6, 7]);
    expect(gaps).toEqual([3]);
  });

  it('keeps senders apart, and passes unnumbered signals straight on', () => {
    const { s, delivered } = sequencer();
    s.push('a', signal(2), 2);
    s.push('b', signal(1), 1);
    s.push('c', signal(42), 0);
    expect(delivered).toEqual([1, 42]);
  });

  it('starts over when the sender numbers from 1 again', () => {
    const { s, delivered, gaps } = sequencer();
    for (const n of [1, 2, 3]) s.push('a', signal(n), n);
    s.push('a', signal(1), 1);
    s.push('a', signal(2), 2);
    expect(delivered).toEqual([1, 2, 3, 1, 2]);
    expect(gaps).toEqual([]);
  });

  it('takes a sender first seen far into its numbering from there (the session moved to this gateway)', () => {
    const { s, delivered, gaps } = sequencer(4);
    s.push('a', signal(57), 57);
    s.push('a', signal(58), 58);
    expect(delivered).toEqual([57, 58]);
    expect(gaps).toEqual([]);
  });

  it('forgets a sender that left, with its timer', () => {
    const { s, delivered, gaps } = sequencer();
    s.push('a', signal(2), 2);
    s.forget('a');
    vi.advanceTimersByTime(1_000);
    expect(delivered).toEqual([]);
    expect(gaps).toEqual([]);
  });
});
