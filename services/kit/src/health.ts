import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<void>;

export interface HealthServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Named checks; /readyz is 200 only when all pass. */
  checks: Record<string, ReadinessCheck>;
  checkTimeoutMs?: number;
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

export async function readiness(checks: Record<string, ReadinessCheck>, timeoutMs = 1_000) {
  const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const));
  const results = Object.fromEntries(entries);
  return { ready: entries.every(([, r]) => r === 'ok'), checks: results };
}

/** /healthz (the process is alive), /readyz (its dependencies answer) and /metrics. */
export async function startHealthServer(options: HealthServerOptions): Promise<Server & { port: number }> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const r = await readiness(options.checks, options.checkTimeoutMs);
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': options.registry.contentType }).end(await options.registry.metrics());
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
