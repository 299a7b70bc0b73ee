import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { noticeMs, Notices } from './notices';

describe('Notices', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows the last three, each for a while, and says when the list changed', () => {
    const changed = vi.fn();
    const notices = new Notices(changed);
    for (const name of ['Ann', 'Bo', 'Cy', 'Di']) {
      notices.add(`${name} joined`);
      vi.advanceTimersByTime(1_000);
    }
    expect(notices.current.map((n) => n.text)).toEqual(['Bo joined', 'Cy joined', 'Di joined']);
    expect(new Set(notices.current.map((n) => n.id)).size).toBe(3);
    vi.advanceTimersByTime(noticeMs - 3_000);
    expect(notices.current.map((n) => n.text)).toEqual(['Cy joined', 'Di joined']);
    vi.advanceTimersByTime(2_000);
    expect(notices.current).toEqual([]);
    expect(changed).toHaveBeenCalledTimes(8);
  });
});
