import { generateMeetingId, generatePasscode, isIssuedMeetingId, isValidPasscode } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import { bufferedRandom } from './random';

describe('bufferedRandom', () => {
  it('hands out fresh bytes across block boundaries and for requests larger than a block', () => {
    const random = bufferedRandom(8);
    const seen = [random(new Uint8Array(5)), random(new Uint8Array(5)), random(new Uint8Array(20))];
    expect(seen.map((b) => b.length)).toEqual([5, 5, 20]);
    const many = Array.from({ length: 2_000 }, () => Buffer.from(random(new Uint8Array(8))).toString('hex'));
    expect(new Set(many).size).toBe(2_000);
  });

  it('drives the id and passcode generators uniformly', () => {
    const random = bufferedRandom();
    const ids = new Set(Array.from({ length: 2_000 }, () => generateMeetingId(random)));
    expect(ids.size).toBe(2_000);
    for (const id of ids) expect(isIssuedMeetingId(id)).toBe(true);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 5_000; i++) {
      const p = generatePasscode(random);
      expect(isValidPasscode(p)).toBe(true);
      for (const d of p) counts[Number(d)]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(2_500);
  });
});
