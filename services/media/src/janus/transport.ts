import { type JanusWebSocket, type JanusWebSocketFactory, JanusSocket } from '@lessoncall/proto';
import WebSocket from 'ws';

export { JanusError, JanusSocket, JanusUnavailableError, janusCodes } from '@lessoncall/proto';

/** Node's side of the Janus client: a `ws` WebSocket (the browser passes its own). */
export const nodeWebSocket: JanusWebSocketFactory = (url, protocol) => {
  const ws = new WebSocket(url, protocol);
  // An error before open is reported through onerror; afterwards a stray one must not crash the process.
  ws.on('error', () => {});
  return ws as unknown as JanusWebSocket;
};

/** A socket to a node's Janus or Admin API from Node. */
export function nodeJanusSocket(url: string, protocol: 'janus-protocol' | 'janus-admin-protocol', timeoutMs: number): JanusSocket {
  return new JanusSocket(url, protocol, timeoutMs, nodeWebSocket);
}
