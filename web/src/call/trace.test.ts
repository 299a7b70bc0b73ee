import { describe, expect, it } from 'vitest';
import { newTraceparent } from './trace';

describe('newTraceparent', () => {
  it('is a sampled version-00 traceparent with fresh ids', () => {
    const a = newTraceparent();
    expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(newTraceparent()).not.toBe(a);
  });

  it('redraws an all-zero id, which the spec forbids', () => {
    let calls = 0;
    const random = (b: Uint8Array<ArrayBuffer>) => {
      calls++;
      b.fill(calls === 1 ? 0 : 0xab);
      return b;
    };
    expect(newTraceparent(random)).toBe(`00-${'ab'.repeat(16)}-${'ab'.repeat(8)}-01`);
  });
});
