/**
 * Join → first remote video frame at both ends, full stack through TURN, next to two bare
 * RTCPeerConnections in the same browser and run. The browser code lives with the web app's
 * browser tests (web/e2e/join-to-frame.ts, typed against the DOM); this is its entry point.
 *
 *   pnpm exec tsx bench/join-to-frame.ts        (RUNS=15 WARMUP=2)
 *
 * Writes bench/results/join-to-frame.json, then adds to it what every benchmark reports: the
 * ratio to the anchor (the bare relay pair in the same run) and where the time of the median
 * run went, phase by phase (join, socket, welcome, offer, answer, ICE, first frame).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { median, ratio } from './lib/rounds';

const root = resolve(import.meta.dirname, '..');
const out = resolve(root, 'bench/results/join-to-frame.json');
const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(root, 'web/e2e/join-to-frame.ts')], { cwd: resolve(root, 'web'), stdio: 'inherit' });
process.exitCode = r.status ?? 1;

interface RunRecord {
  fullStackMs: number;
  barePairRelayMs: number;
  idleShare?: number;
  phases?: { joiner: Record<string, number>; other: Record<string, number> };
}

if (r.status === 0) {
  const result = JSON.parse(readFileSync(out, 'utf8')) as {
    runsInOrder?: RunRecord[];
    fullStack: { bothEnds: { median: number } };
    barePairRelay: { bothEnds: { median: number } };
  } & Record<string, unknown>;
  const runs = result.runsInOrder ?? [];
  // The run at the median (the lower middle for an even count: a run that happened, not an average of two).
  const sorted = [...runs].sort((a, b) => a.fullStackMs - b.fullStackMs);
  const medianRun = sorted[Math.floor((sorted.length - 1) / 2)];
  const byTime = (p: Record<string, number> | undefined) => Object.fromEntries(Object.entries(p ?? {}).sort((a, b) => a[1] - b[1]));
  const phases = medianRun ? { student: byTime(medianRun.phases?.joiner), tutor: byTime(medianRun.phases?.other) } : undefined;
  const withHeadline = {
    ...result,
    headline: {
      fullStackMedianMs: result.fullStack.bothEnds.median,
      barePairRelayMedianMs: result.barePairRelay.bothEnds.median,
      ratioToBarePairRelay: ratio(result.fullStack.bothEnds.median, result.barePairRelay.bothEnds.median),
      idleShareMedian: median(runs.map((x) => x.idleShare ?? Number.NaN)),
      medianRun: medianRun
        ? { fullStackMs: medianRun.fullStackMs, barePairRelayMs: medianRun.barePairRelayMs, idleShare: medianRun.idleShare, phases }
        : undefined,
    },
  };
  writeFileSync(out, `${JSON.stringify(withHeadline, null, 2)}\n`);
  if (phases) {
    console.log(`median run: ${medianRun?.fullStackMs} ms (bare relay pair in the same round ${medianRun?.barePairRelayMs} ms); ms after the click on Join:`);
    for (const [side, steps] of Object.entries(phases))
      console.log(
        `  ${side}: ${Object.entries(steps)
          .map(([k, v]) => `${k} ${v}`)
          .join(' → ')}`,
      );
  }
  console.log(`full stack ÷ bare relay pair (medians, same run): ×${withHeadline.headline.ratioToBarePairRelay}`);
}
