/**
 * What every benchmark reports the same way: each round with the machine's idle CPU during it,
 * the median of the rounds as the headline (never the best round: on a shared machine the best
 * round is luck, the median is what a second run would likely show again), and the ratio to
 * an anchor measured in the same run, so that a figure taken on a loaded machine can still be
 * compared with one taken on a quiet one.
 */
import { readFileSync } from 'node:fs';
import { round } from './stats';

export interface CpuTimes {
  /** Jiffies of all cores, all states. */
  total: number;
  /** Jiffies of all cores idle or waiting for I/O. */
  idle: number;
}

/** The machine's CPU counters, from the first line of /proc/stat (all cores). */
export function readCpuTimes(stat = readFileSync('/proc/stat', 'utf8')): CpuTimes {
  const fields = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest is already counted in user).
  const total = fields.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return { total, idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

/** Share of the machine's CPU (0–1, all cores together) that stayed idle between two readings. */
export function idleShare(from: CpuTimes, to: CpuTimes): number {
  const total = to.total - from.total;
  return total > 0 ? (to.idle - from.idle) / total : Number.NaN;
}

/**
 * Starts measuring the machine's idle CPU; the returned function ends it. The share is of all
 * cores: 0.5 on 2 cores means one core's worth was idle on average over the round.
 */
export function idleMeter(read: () => CpuTimes = readCpuTimes): () => { idleShare: number } {
  const start = read();
  return () => ({ idleShare: round(idleShare(start, read()), 3) });
}

/** The median of the values (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** `value / anchor`, rounded; undefined when the anchor is missing or zero (a ratio to nothing is not a figure). */
export function ratio(value: number | undefined, anchor: number | undefined, digits = 2): number | undefined {
  if (value === undefined || anchor === undefined || !Number.isFinite(value) || !Number.isFinite(anchor) || anchor === 0) return undefined;
  return round(value / anchor, digits);
}

export type Round<T> = T & { round: number; idleShare: number };

/**
 * Runs `n` rounds one after another, measuring the machine's idle CPU over each, and returns
 * them in order. `label` prints one line per round as it finishes, so a long run shows progress;
 * `read` replaces /proc/stat (tests).
 */
export async function runRounds<T extends object>(
  n: number,
  fn: (round: number) => Promise<T>,
  options: { label?: (r: Round<T>) => string; read?: () => CpuTimes } = {},
): Promise<Array<Round<T>>> {
  const { label, read } = options;
  const out: Array<Round<T>> = [];
  for (let i = 1; i <= n; i++) {
    const meter = idleMeter(read);
    const value = await fn(i);
    const r = { ...value, round: i, ...meter() };
    out.push(r);
    if (label) console.log(`  round ${i}/${n}: ${label(r)} (machine idle ${Math.round(r.idleShare * 100)}%)`);
  }
  return out;
}

/**
 * The headline of a set of rounds: the median of each named figure over the rounds, with the
 * range and the idle CPU of every round beside it, so a reader sees how much the rounds agree.
 */
export function medianOfRounds<T extends { round: number; idleShare: number }, K extends string>(
  rounds: readonly T[],
  figures: Record<K, (r: T) => number | undefined>,
): { rounds: number; idleShare: number[]; median: Record<K, number>; range: Record<K, [number, number]> } {
  const med = {} as Record<K, number>;
  const range = {} as Record<K, [number, number]>;
  for (const key of Object.keys(figures) as K[]) {
    const values = rounds.map((r) => figures[key](r)).filter((x): x is number => x !== undefined && Number.isFinite(x));
    med[key] = round(median(values), 3);
    range[key] = values.length ? [round(Math.min(...values), 3), round(Math.max(...values), 3)] : [Number.NaN, Number.NaN];
  }
  return { rounds: rounds.length, idleShare: rounds.map((r) => r.idleShare), median: med, range };
}
