/**
 * One client process of bench/gateway-sockets.ts: opens its share of authenticated WebSockets
 * (hello → welcome, a real join each), answers the gateway's pings (ws does), holds them, and
 * reports counts over IPC. Several of these run at once because every socket is a file
 * descriptor and one process may hold only so many.
 */
import { WebSocket } from 'ws';
import { count } from './stats';

export interface SocketJob {
  url: string;
  /** A loopback source address of its own, so that each client process has its own ephemeral port range. */
  localAddress: string;
  concurrency: number;
  hellos: Array<{ accessToken: string; meetingId: string; passcode: string }>;
}

export interface SocketReport {
  type: 'report';
  attempted: number;
  open: number;
  joined: number;
  failedHellos: number;
  connectErrors: number;
  errors: Record<string, number>;
  closeCodes: Record<string, number>;
}

const sockets = new Set<WebSocket>();
const report: SocketReport = { type: 'report', attempted: 0, open: 0, joined: 0, failedHellos: 0, connectErrors: 0, errors: {}, closeCodes: {} };

function joinOne(job: SocketJob, hello: SocketJob['hellos'][number]): Promise<void> {
  return new Promise((resolve) => {
    report.attempted++;
    const ws = new WebSocket(job.url, { localAddress: job.localAddress, perMessageDeflate: false, handshakeTimeout: 15_000 });
    let joined = false;
    let attempts = 0;
    const sendHello = () => {
      attempts++;
      ws.send(JSON.stringify({ requestId: 'h', hello: { ...hello, displayName: 'bench' } }));
    };
    ws.on('open', () => {
      sockets.add(ws);
      report.open++;
      sendHello();
    });
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString());
      if (msg.welcome) {
        joined = true;
        report.joined++;
        resolve();
      } else if (msg.error) {
        count(report.errors, msg.error.code);
        if (!joined) {
          // The participant service busy (unavailable): try again a little later, twice.
          if (msg.error.code === 'unavailable' && attempts < 3) setTimeout(sendHello, 500);
          else {
            report.failedHellos++;
            resolve();
          }
        }
      }
    });
    ws.on('error', () => {
      if (!sockets.has(ws)) {
        report.connectErrors++;
        resolve();
      }
    });
    ws.on('close', (code) => {
      count(report.closeCodes, String(code));
      if (sockets.delete(ws)) report.open--;
      if (joined) report.joined--;
      resolve();
    });
  });
}

process.on('message', async (message: { type: 'start'; job: SocketJob } | { type: 'report' } | { type: 'stop' }) => {
  if (message.type === 'report') {
    process.send?.(report);
  } else if (message.type === 'stop') {
    for (const ws of sockets) ws.terminate();
    process.send?.(report);
    setTimeout(() => process.exit(0), 100);
  } else if (message.type === 'start') {
    const { job } = message;
    let next = 0;
    await Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        for (;;) {
          const hello = job.hellos[next++];
          if (!hello) return;
          await joinOne(job, hello);
        }
      }),
    );
    process.send?.({ ...report, type: 'done' });
  }
});
