import { describe, expect, it } from 'vitest';
import { TokenBucket, WindowCounter } from './rate-limit';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    let t = 0;
    const bucket = new TokenBucket(10, 20, () => t);
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (bucket.take()) allowed++;
    expect(allowed).toBe(20);
    t += 500; // half a second refills 5 tokens
    allowed = 0;
    for (let i = 0; i < 50; i++) if (bucket.take()) allowed++;
    expect(allowed).toBe(5);
  });

  it('never holds more than the burst', () => {
    let t = 0;
    const bucket = new TokenBucket(10, 20, () => t);
    t += 60_000;
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (bucket.take()) allowed++;
    expect(allowed).toBe(20);
  });
});

describe('WindowCounter', () => {
  it('trips when one window goes over the limit, and resets with the next window', () => {
    let t = 0;
    const counter = new WindowCounter(3, 1000, () => t);
    expect([counter.hit(), counter.hit(), counter.hit()]).toEqual([false, false, false]);
    expect(counter.hit()).toBe(true);
    t += 1000;
    expect(counter.hit()).toBe(false);
  });
});
