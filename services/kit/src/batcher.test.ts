import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher';

describe('Batcher', () => {
  it('hands work submitted together to one run, and splits at maxBatch', async () => {
    const runs: number[][] = [];
    const b = new Batcher<number, number>(
      async (xs) => {
        runs.push(xs);
        return xs.map((x) => x * 2);
      },
      { maxBatch: 3, maxConcurrent: 1 },
    );
    const results = await Promise.all([1, 2, 3, 4, 5].map((x) => b.submit(x)));
    expect(results).toEqual([2, 4, 6, 8, 10]);
    expect(runs).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('queues work that arrives while a batch runs into the next one', async () => {
    const runs: number[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const b = new Batcher<number, number>(
      async (xs) => {
        runs.push(xs);
        if (runs.length === 1) await gate;
        return xs;
      },
      { maxBatch: 100, maxConcurrent: 1 },
    );
    const first = b.submit(1);
    await new Promise((r) => setImmediate(r));
    const later = [2, 3, 4].map((x) => b.submit(x));
    await new Promise((r) => setImmediate(r));
    expect(runs).toEqual([[1]]);
    release();
    await Promise.all([first, ...later]);
    expect(runs).toEqual([[1], [2, 3, 4]]);
  });

  it('when a batch fails, retries each item alone so only the bad one fails', async () => {
    const b = new Batcher<number, number>(
      async (xs) => {
        if (xs.includes(13)) throw new Error(`unlucky batch of ${xs.length}`);
        return xs;
      },
      { maxBatch: 10, maxConcurrent: 2 },
    );
    const settled = await Promise.allSettled([12, 13, 14].map((x) => b.submit(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe('unlucky batch of 1');
  });

  it('retries the items of a failed batch at most maxConcurrent at a time', async () => {
    let running = 0;
    let peak = 0;
    const b = new Batcher<number, number>(
      async (xs) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        if (xs.length > 1) throw new Error('batch failed');
        return xs;
      },
      { maxBatch: 50, maxConcurrent: 2 },
    );
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => b.submit(i)));
    expect(results).toHaveLength(50);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('does not split a batch whose failure splitOn says every item would share', async () => {
    const runs: number[] = [];
    const b = new Batcher<number, number>(
      async (xs) => {
        runs.push(xs.length);
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
      { maxBatch: 10, maxConcurrent: 2, splitOn: (err) => (err as { code?: string }).code !== 'ECONNREFUSED' },
    );
    const settled = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(runs).toEqual([3]);
  });
});
