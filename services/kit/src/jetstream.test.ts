import { JetStreamApiError } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { isJetStreamUnavailable, retryWhileJetStreamUnavailable } from './jetstream';

const apiError = (errCode: number, description: string) => new JetStreamApiError({ code: 400, err_code: errCode, description });

describe('isJetStreamUnavailable', () => {
  it('waits out a cluster whose peers are still coming back, not a placement that cannot work', () => {
    // What nats-server answers a stream create while two of three nodes restart (seen in the cluster test).
    expect(isJetStreamUnavailable(apiError(10005, 'no suitable peers for placement, peer offline'))).toBe(true);
    expect(isJetStreamUnavailable(apiError(10008, 'JetStream system temporarily unavailable'))).toBe(true);
    // Five replicas on a three-node cluster stays impossible: thrown at once.
    expect(isJetStreamUnavailable(apiError(10005, 'insufficient resources'))).toBe(false);
    expect(isJetStreamUnavailable(apiError(10058, 'stream name already in use with a different configuration'))).toBe(false);
  });

  it('retries the offline-peer answer until the cluster places the stream', async () => {
    let calls = 0;
    const placed = await retryWhileJetStreamUnavailable(async () => {
      calls++;
      if (calls < 3) throw apiError(10005, 'no suitable peers for placement, peer offline');
      return 'placed';
    });
    expect(placed).toBe('placed');
    expect(calls).toBe(3);
  });
});
