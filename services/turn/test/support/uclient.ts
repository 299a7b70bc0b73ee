import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { requireBinary } from '@lessoncall/kit/testing';

export interface UclientResult {
  /** Exit code; null when it was stopped (after `until` matched or the time limit). */
  code: number | null;
  output: string;
  /** The allocation was refused (401: bad or expired credential). */
  allocationFailed: boolean;
  /** Every client has its relay allocated and its channel bound to the peer. */
  connected: boolean;
  /** CreatePermission / ChannelBind to the peer was refused with 403 Forbidden IP. */
  peerForbidden: boolean;
  /** An allocation was refused with 486 Allocation Quota Reached. */
  quotaReached: boolean;
  /** Messages sent to the peer through the relay, and echoes received back through it. */
  sent: number;
  received: number;
}

export interface UclientOptions {
  port: number;
  username: string;
  credential: string;
  peer: string;
  peerPort?: number;
  messages?: number;
  /** Concurrent clients (allocations) with the same credential (default 1). */
  clients?: number;
  /** Stop the client as soon as this holds (e.g. once it has sent through the relay). */
  until?: (progress: UclientResult) => boolean;
  timeoutMs?: number;
}

/**
 * coturn's own test client: allocates a relay on the server with the given long-term
 * credential, binds a channel to the peer and sends `messages` packets through the relay,
 * counting the echoes that come back.
 */
export function uclient(options: UclientOptions): Promise<UclientResult> {
  const bin = requireBinary(['turnutils_uclient', '/usr/bin/turnutils_uclient'], 'coturn');
  const args = [
    '-p',
    String(options.port),
    '-u',
    options.username,
    '-w',
    options.credential,
    '-e',
    options.peer,
    '-r',
    String(options.peerPort ?? 3480),
    '-n',
    String(options.messages ?? 5),
    '-m',
    String(options.clients ?? 1),
    '-c',
    '127.0.0.1',
  ];
  return new Promise((resolve, reject) => {
    // Line-buffered, so that `until` sees progress as it happens, not when the pipe flushes at exit.
    const child = existsSync('/usr/bin/stdbuf')
      ? spawn('/usr/bin/stdbuf', ['-oL', '-eL', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (d: Buffer) => {
      output += d.toString();
      if (options.until?.(parse(null, output))) child.kill('SIGKILL');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(parse(code, output));
    });
  });
}

function parse(code: number | null, output: string): UclientResult {
  const counts = [...output.matchAll(/tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/g)].at(-1);
  return {
    code,
    output,
    allocationFailed: /Cannot complete Allocation/.test(output),
    connected: /Total connect time is/.test(output),
    peerForbidden: /403 \(Forbidden IP\)/.test(output),
    quotaReached: /486 \(Allocation Quota Reached\)/.test(output),
    sent: Number(counts?.[1] ?? 0),
    received: Number(counts?.[2] ?? 0),
  };
}

export interface EchoPeer {
  port: number;
  /** Packets that reached the peer. */
  received(): number;
  close(): Promise<void>;
}

/** A UDP peer that echoes every packet back, as turnutils_peer does. */
export function echoPeer(host: string): Promise<EchoPeer> {
  return new Promise((resolve) => {
    const socket: Socket = createSocket('udp4');
    let count = 0;
    socket.on('message', (msg, rinfo) => {
      count++;
      socket.send(msg, rinfo.port, rinfo.address);
    });
    socket.bind(0, host, () => {
      resolve({
        port: socket.address().port,
        received: () => count,
        close: () => new Promise((r) => socket.close(() => r())),
      });
    });
  });
}
