import { JanusClient } from '@lessoncall/proto';
import { nodeWebSocket } from './transport';

export { JanusClient, JanusHandle, type Jsep, type PluginReply } from '@lessoncall/proto';

/** A Janus API client from Node (the tests' and the benchmark's peers). */
export function nodeJanusClient(url: string, token: string, timeoutMs = 5_000): JanusClient {
  return new JanusClient(url, token, { timeoutMs, factory: nodeWebSocket });
}
