/**
 * A benchmark starts servers as processes and must leave none behind, and a hung server must end
 * the run rather than stall it: what every benchmark's main() needs around its work.
 */
import { sleep } from './stats';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Keeps what `keep` is given and stops it all, last started first, in `stopAll`; after
 * `deadlineMs` it stops everything and exits with 2.
 */
export function bounded(name: string, deadlineMs: number) {
  const kept: Stoppable[] = [];
  const stopAll = async () => {
    for (const s of kept.splice(0).reverse()) await s.stop().catch(() => {});
  };
  const watchdog = setTimeout(() => {
    console.error(`${name}: over the ${deadlineMs / 1000} s bound, giving up`);
    void Promise.race([stopAll(), sleep(15_000)]).finally(() => process.exit(2));
  }, deadlineMs);
  watchdog.unref();
  return {
    keep<T extends Stoppable>(s: T): T {
      kept.push(s);
      return s;
    },
    stopAll,
  };
}

/** Runs a benchmark's main and exits: 0 when it finished, 1 with the error printed otherwise (open sockets must not keep it alive). */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
