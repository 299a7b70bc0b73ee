import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP relay on loopback in front of a server, for the network failures a test needs to cause
 * that the server itself never produces: a connection that goes silent without closing, or a
 * network that is down for a while.
 */
export interface TcpProxy {
  readonly port: number;
  /** Connections open now stop carrying bytes either way and stay open (a half-dead network); new ones are relayed. */
  blackhole(): void;
  /** Resets every connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<{ client: Socket; server: Socket; silent: boolean }>();
  let refusing = false;
  const srv = createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    const server = createConnection(target.port, target.host);
    const link = { client, server, silent: false };
    open.add(link);
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (!link.silent && !to.destroyed) to.write(chunk);
      });
      from.on('close', () => {
        open.delete(link);
        if (!link.silent) to.destroy();
      });
      from.on('error', () => {});
    };
    pipe(client, server);
    pipe(server, client);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (srv.address() as { port: number }).port;
  const resetAll = () => {
    for (const l of open) {
      l.client.resetAndDestroy();
      l.server.destroy();
    }
    open.clear();
  };
  return {
    port,
    blackhole() {
      for (const l of open) l.silent = true;
    },
    cut() {
      refusing = true;
      resetAll();
    },
    restore() {
      refusing = false;
    },
    close() {
      resetAll();
      return new Promise((resolve) => srv.close(() => resolve()));
    },
  };
}
