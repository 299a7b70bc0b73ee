import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics';

export type ReadinessCheck = () => Promise<void>;

export interface ReadinessResult {
  ready: boolean;
  checks: Record<string, string>;
}

/** Readiness as probes see it: the last result while it is fresh, so a probe costs no round trip. */
export interface Readiness {
  check(): Promise<ReadinessResult>;
  /** Forget the last result (a dependency's state changed): the next probe checks again. */
  invalidate(): void;
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  /** What /metrics answers. */
  metrics: Pick<Metrics, 'text' | 'contentType'>;
  /** What /readyz answers; 200 only when every check passes. */
  readiness: Readiness;
}

/** Runs a check with a deadline, so a hung dependency makes /readyz fail instead of hang. */
async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return (err as Error).message || 'failed';
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(checks: Record<string, ReadinessCheck>, timeoutMs = 1_000): Promise<ReadinessResult> {
  const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const));
  const results = Object.fromEntries(entries);
  return { ready: entries.every(([, r]) => r === 'ok'), checks: results };
}

/**
 * Runs the checks at most once per `cacheMs` (one run at a time, shared by every probe that
 * arrives meanwhile), so a flood of /readyz requests is not a flood of Postgres and NATS round
 * trips. A failed result is cached too: an outage is when probes must cost the least.
 */
export function cachedReadiness(checks: Record<string, ReadinessCheck>, options: { timeoutMs?: number; cacheMs: number; now?: () => number }): Readiness {
  const now = options.now ?? (() => performance.now());
  let last: { at: number; result: ReadinessResult } | undefined;
  let running: Promise<ReadinessResult> | undefined;
  let generation = 0;
  return {
    check() {
      if (last && now() - last.at < options.cacheMs) return Promise.resolve(last.result);
      if (!running) {
        const started = now();
        const mine = generation;
        running = readiness(checks, options.timeoutMs).then((result) => {
          // A result from before an invalidation is answered to whoever waited for it, not kept.
          if (mine === generation) last = { at: started, result };
          return result;
        });
        void running.finally(() => {
          running = undefined;
        });
      }
      return running;
    },
    invalidate() {
      generation++;
      last = undefined;
      running = undefined;
    },
  };
}

/** /healthz (the process is alive), /readyz (its dependencies answer, cached) and /metrics. */
export async function startHealthServer(options: HealthServerOptions): Promise<Server & { port: number }> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const r = await options.readiness.check();
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': options.metrics.contentType }).end(await options.metrics.text());
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"not found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : options.port });
}
