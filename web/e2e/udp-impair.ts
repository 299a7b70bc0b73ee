/**
 * A bad network in userspace (this kernel has no netem): a UDP relay in front of coturn that
 * drops a share of the packets going up to it and polices the rate (token bucket; what does not
 * fit is dropped, as a saturated uplink does). Each client address gets its own upstream socket,
 * so coturn sees one 5-tuple per browser and allocations work as usual.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface Impairment {
  /** Share of upstream packets dropped, 0–1. */
  loss: number;
  /** Upstream rate limit; undefined: none. */
  rateKbps: number | undefined;
}

export class UdpImpairment {
  private impairment: Impairment = { loss: 0, rateKbps: undefined };
  private readonly upstream = new Map<string, Socket>();
  private tokens = 0;
  private refilledAt = Date.now();
  readonly counts = { forwarded: 0, dropped: 0 };

  private constructor(
    private readonly front: Socket,
    private readonly target: { host: string; port: number },
    private readonly random: () => number,
  ) {
    front.on('message', (msg, from) => this.up(msg, from.address, from.port));
  }

  static async start(target: { host: string; port: number }, random: () => number = Math.random): Promise<UdpImpairment> {
    const front = createSocket('udp4');
    await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
    return new UdpImpairment(front, target, random);
  }

  get port(): number {
    return this.front.address().port;
  }

  set(impairment: Partial<Impairment>): void {
    this.impairment = { ...this.impairment, ...impairment };
    this.tokens = 0;
    this.refilledAt = Date.now();
  }

  private admit(bytes: number): boolean {
    const { loss, rateKbps } = this.impairment;
    if (loss > 0 && this.random() < loss) return false;
    if (rateKbps === undefined) return true;
    const now = Date.now();
    const bytesPerMs = rateKbps / 8;
    // A bucket of 100 ms worth of data: bursts pass, a sustained excess does not.
    this.tokens = Math.min(bytesPerMs * 100, this.tokens + (now - this.refilledAt) * bytesPerMs);
    this.refilledAt = now;
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }

  private up(msg: Buffer, address: string, port: number) {
    if (!this.admit(msg.length)) {
      this.counts.dropped++;
      return;
    }
    this.counts.forwarded++;
    const key = `${address}:${port}`;
    let s = this.upstream.get(key);
    if (!s) {
      const sock = createSocket('udp4');
      sock.on('message', (back) => this.front.send(back, port, address));
      sock.on('error', () => {});
      this.upstream.set(key, sock);
      s = sock;
    }
    s.send(msg, this.target.port, this.target.host);
  }

  close(): void {
    for (const s of this.upstream.values()) s.close();
    this.front.close();
  }
}
