/**
 * A frame number drawn into synthetic video, so that a receiver in the same process can tell
 * which sent frame it decoded and so how long the frame took from the source to the decoder.
 *
 * The number is 12 bits plus a 4-bit check, as a 4 × 4 grid of black or white cells in the top
 * left of the luma plane (I420), each cell a fifth of the frame's shorter side: large enough for
 * VP8 at a low bitrate to keep black and white apart at the cells' centres. A frame whose check
 * does not match (a blurred keyframe, a frame from before the stamps) is counted, not guessed.
 */

const bits = 12;
const black = 16;
const white = 235;

/** Offset so that an all-black or all-white frame is no valid stamp. */
function check(n: number): number {
  return ((n & 0xf) + ((n >> 4) & 0xf) + ((n >> 8) & 0xf) + 5) & 0xf;
}

const cellOf = (width: number, height: number) => Math.floor(Math.min(width, height) / 5);

/** Draws `n` (taken modulo 4096) into the luma plane of an I420 frame. */
export function stampFrame(data: Uint8Array, width: number, height: number, n: number): void {
  const value = ((n & ((1 << bits) - 1)) << 4) | check(n & ((1 << bits) - 1));
  const cell = cellOf(width, height);
  for (let i = 0; i < 16; i++) {
    const on = (value >> (15 - i)) & 1;
    const x0 = (i % 4) * cell;
    const y0 = Math.floor(i / 4) * cell;
    for (let y = y0; y < y0 + cell; y++) data.fill(on ? white : black, y * width + x0, y * width + x0 + cell);
  }
}

/** The number stamped into a decoded frame; undefined when the cells do not read back with a matching check. */
export function readStamp(data: Uint8Array, width: number, height: number): number | undefined {
  const cell = cellOf(width, height);
  if (cell < 4 || data.length < width * height) return undefined;
  let value = 0;
  for (let i = 0; i < 16; i++) {
    const x0 = (i % 4) * cell + Math.floor(cell / 4);
    const y0 = Math.floor(i / 4) * cell + Math.floor(cell / 4);
    const side = Math.max(1, Math.floor(cell / 2));
    let sum = 0;
    for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) sum += data[y * width + x] ?? 0;
    value = (value << 1) | (sum / (side * side) > (black + white) / 2 ? 1 : 0);
  }
  const n = value >> 4;
  return check(n) === (value & 0xf) ? n : undefined;
}

/**
 * Source-to-decoder time of stamped frames, per feed, on one clock (sender and receiver are in
 * this process). `sent` before a frame goes to the source; `decoded` from a video sink.
 */
export class FrameLatency {
  readonly #sent = new Map<string, Map<number, number>>();
  readonly #next = new Map<string, number>();
  /** Milliseconds from the source to the decoder, one per decoded stamped frame since the last reset. */
  samples: number[] = [];
  /** Decoded frames whose stamp did not read back. */
  unreadable = 0;

  /** Stamps the feed's next number into `data` and notes the time. */
  sent(feed: string, data: Uint8Array, width: number, height: number): void {
    const n = ((this.#next.get(feed) ?? 0) + 1) % (1 << bits);
    this.#next.set(feed, n);
    stampFrame(data, width, height, n);
    const times = this.#sent.get(feed) ?? new Map<number, number>();
    this.#sent.set(feed, times);
    times.set(n, performance.now());
  }

  decoded(feed: string, frame: { width: number; height: number; data?: Uint8Array }): void {
    const n = frame.data ? readStamp(frame.data, frame.width, frame.height) : undefined;
    const at = n === undefined ? undefined : this.#sent.get(feed)?.get(n);
    if (at === undefined) {
      this.unreadable += 1;
      return;
    }
    this.samples.push(performance.now() - at);
  }

  reset(): void {
    this.samples = [];
    this.unreadable = 0;
  }
}
