/**
 * A bad link in userspace (this kernel has no netem): a UDP and TCP relay in front of a server
 * (coturn, a gateway) that adds delay and jitter and caps the bandwidth, in both directions.
 * Loss and blackouts are the kernel's job (iptables in the drill's namespace); this does what
 * iptables cannot. Each UDP client gets its own upstream socket, so the server sees one 5-tuple
 * per client and TURN allocations work as usual; TCP keeps its byte order (jitter never reorders).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket as TcpSocket } from 'node:net';

export interface LinkShape {
  delayMs: number;
  /** Each packet's delay is delayMs ± up to jitterMs (uniform). */
  jitterMs: number;
  /** Bandwidth per direction; undefined: unlimited. Excess waits in a queue of at most maxQueueMs, then is dropped. */
  rateKbps: number | undefined;
}

const noShape: LinkShape = { delayMs: 0, jitterMs: 0, rateKbps: undefined };
const maxQueueMs = 250;

/** One direction of the link: when a packet of `bytes` leaves, or undefined when it is dropped. */
class Direction {
  private linkFreeAt = 0;
  private lastDueAt = 0;
  dropped = 0;
  forwarded = 0;
  constructor(
    private readonly shape: () => LinkShape,
    private readonly random: () => number,
  ) {}

  due(bytes: number, now: number, keepOrder: boolean): number | undefined {
    const s = this.shape();
    let leaves = now;
    if (s.rateKbps !== undefined) {
      this.linkFreeAt = Math.max(now, this.linkFreeAt);
      if (this.linkFreeAt - now > maxQueueMs) {
        this.dropped++;
        return undefined;
      }
      this.linkFreeAt += (bytes * 8) / s.rateKbps;
      leaves = this.linkFreeAt;
    }
    let at = leaves + Math.max(0, s.delayMs + (this.random() * 2 - 1) * s.jitterMs);
    if (keepOrder) at = Math.max(at, this.lastDueAt);
    this.lastDueAt = at;
    this.forwarded++;
    return at;
  }
}

function later(at: number, fn: () => void) {
  const wait = at - Date.now();
  if (wait <= 0) fn();
  else setTimeout(fn, wait);
}

export class ShapedRelay {
  private shapeNow: LinkShape = noShape;
  readonly up: Direction;
  readonly down: Direction;
  private readonly upstream = new Map<string, Socket>();
  private readonly tcpSockets = new Set<TcpSocket>();

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly target: { host: string; port: number },
    private readonly udp: Socket | undefined,
    private readonly tcp: Server | undefined,
    random: () => number,
  ) {
    this.up = new Direction(() => this.shapeNow, random);
    this.down = new Direction(() => this.shapeNow, random);
  }

  /** Listens on `host` (UDP and/or TCP on one port number) and forwards to `target`. */
  static async start(options: {
    host: string;
    target: { host: string; port: number };
    udp?: boolean;
    tcp?: boolean;
    random?: () => number;
  }): Promise<ShapedRelay> {
    const tcp = options.tcp === false ? undefined : createServer();
    let port = 0;
    if (tcp) {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(0, options.host, () => resolve());
      });
      port = (tcp.address() as { port: number }).port;
    }
    let udp: Socket | undefined;
    if (options.udp !== false) {
      udp = createSocket('udp4');
      const s = udp;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, options.host, () => resolve());
      });
      port = s.address().port;
    }
    const relay = new ShapedRelay(options.host, port, options.target, udp, tcp, options.random ?? Math.random);
    udp?.on('message', (msg, from) => relay.udpUp(msg, from.address, from.port));
    tcp?.on('connection', (c) => relay.tcpConnection(c));
    return relay;
  }

  shape(shape: Partial<LinkShape>): void {
    this.shapeNow = { ...noShape, ...shape };
  }

  private udpUp(msg: Buffer, address: string, port: number) {
    const at = this.up.due(msg.length, Date.now(), false);
    if (at === undefined) return;
    const key = `${address}:${port}`;
    let s = this.upstream.get(key);
    if (!s) {
      const sock = createSocket('udp4');
      sock.on('message', (back) => {
        const d = this.down.due(back.length, Date.now(), false);
        if (d !== undefined) later(d, () => this.udp?.send(back, port, address));
      });
      sock.on('error', () => {});
      this.upstream.set(key, sock);
      s = sock;
    }
    const out = s;
    later(at, () => out.send(msg, this.target.port, this.target.host));
  }

  private tcpConnection(client: TcpSocket) {
    const server = createConnection(this.target.port, this.target.host);
    this.tcpSockets.add(client);
    this.tcpSockets.add(server);
    const pipe = (from: TcpSocket, to: TcpSocket, dir: Direction) => {
      from.on('data', (chunk) => {
        const at = dir.due(chunk.length, Date.now(), true);
        // A TCP segment the link cannot take is retransmitted by TCP itself; here it is simply late.
        later(at ?? Date.now() + maxQueueMs, () => {
          if (!to.destroyed) to.write(chunk);
        });
      });
      from.on('close', () => later(dir.due(0, Date.now(), true) ?? Date.now(), () => to.destroy()));
      from.on('error', () => {});
    };
    pipe(client, server, this.up);
    pipe(server, client, this.down);
    client.on('close', () => this.tcpSockets.delete(client));
    server.on('close', () => this.tcpSockets.delete(server));
  }

  close(): void {
    for (const s of this.upstream.values()) s.close();
    for (const s of this.tcpSockets) s.destroy();
    this.udp?.close();
    this.tcp?.close();
  }
}
