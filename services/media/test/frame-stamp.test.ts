import { describe, expect, it } from 'vitest';
import { FrameLatency, readStamp, stampFrame } from './support/frame-stamp';
import { directPair } from './support/sfu-peer';

const frameOf = (width: number, height: number, shade: number) => new Uint8Array(width * height * 1.5).fill(shade, 0, width * height);

describe('frame stamps (the SFU benchmark times frames with them)', () => {
  it('reads back every number it draws, on any background', () => {
    for (const [width, height] of [
      [160, 120],
      [320, 240],
    ] as const) {
      for (const n of [0, 1, 2, 1000, 2047, 4095]) {
        for (const shade of [0, 128, 250]) {
          const frame = frameOf(width, height, shade);
          stampFrame(frame, width, height, n);
          expect(readStamp(frame, width, height)).toBe(n);
        }
      }
    }
  });

  it('refuses what is not a stamp: a plain frame, a damaged cell, a frame too small', () => {
    expect(readStamp(frameOf(160, 120, 0), 160, 120)).toBeUndefined();
    expect(readStamp(frameOf(160, 120, 255), 160, 120)).toBeUndefined();
    const frame = frameOf(160, 120, 0);
    stampFrame(frame, 160, 120, 1234);
    // Flip the first cell (the highest bit): the check no longer matches.
    const cell = 24;
    for (let y = 0; y < cell; y++) for (let x = 0; x < cell; x++) frame[y * 160 + x] = 255 - (frame[y * 160 + x] ?? 0);
    expect(readStamp(frame, 160, 120)).toBeUndefined();
    expect(readStamp(new Uint8Array(10), 16, 12)).toBeUndefined();
  });

  it('survives a real VP8 encode and decode: every frame two peer connections carry is timed', async () => {
    const latency = new FrameLatency();
    const pair = await directPair({ width: 160, height: 120, frameIntervalMs: 50, latency });
    try {
      await expect.poll(() => latency.samples.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(30);
      expect(latency.unreadable).toBe(0);
      expect(pair.frames()).toBe(latency.samples.length);
      // On loopback a frame takes milliseconds from the source to the decoder, never negative or seconds.
      expect(Math.min(...latency.samples)).toBeGreaterThan(0);
      expect([...latency.samples].sort((a, b) => a - b)[Math.floor(latency.samples.length / 2)]).toBeLessThan(1_000);
    } finally {
      pair.close();
    }
  });
});
