import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, spawnServer, stopProcess, tcpOpen, waitFor } from './process';

export interface NatsServer {
  url: string;
  port: number;
  /** Kill -9 and start again on the same port and store: a NATS restart. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A real nats-server with JetStream on a free port, its store in a temp dir. */
export async function startNats(): Promise<NatsServer> {
  const bin = requireBinary(['nats-server'], 'nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'lessoncall-nats-'));
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js')];
  let child = spawnServer(bin, args);
  const up = () => waitFor('nats-server', () => tcpOpen(port), 10_000, child.output);
  await up();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async restart() {
      await stopProcess(child, 'SIGKILL');
      child = spawnServer(bin, args);
      await up();
    },
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
