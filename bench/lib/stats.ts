export const round = (x: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** p50/p90/p99/p99.9/max of latencies in milliseconds. */
export function summarize(samples: number[]) {
  const sorted = Float64Array.from(samples).sort();
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    p999: round(percentile(sorted, 99.9), 3),
    max: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
    mean: round(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length), 3),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Adds one to `o[k]`: error codes, close codes, … counted by name. */
export const count = (o: Record<string, number>, k: string): void => {
  o[k] = (o[k] ?? 0) + 1;
};
