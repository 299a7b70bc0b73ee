import { randomFillSync } from 'node:crypto';
import type { RandomSource } from '@lessoncall/proto';

/**
 * The CSPRNG, read in blocks: id and passcode generation draw one byte at a time, and a
 * system call per byte was the largest single cost of creating a meeting. Bytes are handed
 * out once and never reused.
 */
export function bufferedRandom(blockSize = 4_096): RandomSource {
  const block = new Uint8Array(blockSize);
  let next = blockSize;
  return (bytes) => {
    if (bytes.length > blockSize) return randomFillSync(bytes);
    if (next + bytes.length > blockSize) {
      randomFillSync(block);
      next = 0;
    }
    bytes.set(block.subarray(next, next + bytes.length));
    block.fill(0, next, next + bytes.length);
    next += bytes.length;
    return bytes;
  };
}
