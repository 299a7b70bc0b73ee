/**
 * The floor for the relay benchmark: a bare `ws` server that relays `{to, signal}` to the socket
 * registered under `to` as `{from, signal}`. No authentication, no authorisation, no limits, no
 * bus, one process: what relaying costs at the least. PORT from the environment.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const sockets = new Map<string, WebSocket>();
const wss = new WebSocketServer({ port: Number(process.env.PORT), host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const id = new URL(req.url ?? '/', 'http://relay').searchParams.get('id') ?? '';
  sockets.set(id, ws);
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { to: string; signal: unknown };
    sockets.get(m.to)?.send(JSON.stringify({ from: id, signal: m.signal }));
  });
  ws.on('close', () => sockets.delete(id));
});
