interface Waiting<I, O> {
  input: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

export interface BatcherOptions {
  maxBatch: number;
  /** Batches run at the same time; while they run, new work queues up into the next batch. */
  maxConcurrent: number;
  /**
   * Whether a failed batch is worth retrying item by item (default: always). A batch that failed
   * because the database is down fails alone too: splitting it would only multiply the attempts.
   */
  splitOn?: (err: unknown) => boolean;
}

/**
 * Group commit: work submitted in the same turn of the event loop, or while earlier batches
 * are still running, is handed to `run` together. Under light load a batch is one item and
 * nothing waits; under heavy load batches grow on their own. If a batch of several fails, each
 * item is retried alone (at most `maxConcurrent` at a time), so one bad item fails only its own
 * submitter.
 */
export class Batcher<I, O> {
  readonly #run: (inputs: I[]) => Promise<O[]>;
  readonly #options: BatcherOptions;
  readonly #queue: Waiting<I, O>[] = [];
  #running = 0;
  #scheduled = false;

  constructor(run: (inputs: I[]) => Promise<O[]>, options: BatcherOptions) {
    this.#run = run;
    this.#options = options;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#drain();
        });
      }
    });
  }

  #drain(): void {
    while (this.#queue.length > 0 && this.#running < this.#options.maxConcurrent) {
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      this.#running++;
      void this.#runBatch(batch).finally(() => {
        this.#running--;
        this.#drain();
      });
    }
  }

  async #runBatch(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const results = await this.#run(batch.map((w) => w.input));
      for (const [i, w] of batch.entries()) w.resolve(results[i] as O);
    } catch (err) {
      if (batch.length === 1 || !(this.#options.splitOn?.(err) ?? true)) {
        for (const w of batch) w.reject(err);
        return;
      }
      // This batch holds one of the maxConcurrent slots; its singles share it rather than
      // opening a connection each.
      const pending = [...batch];
      const worker = async () => {
        for (let w = pending.shift(); w; w = pending.shift()) {
          const item = w;
          await this.#run([item.input]).then(
            (r) => item.resolve(r[0] as O),
            (e) => item.reject(e),
          );
        }
      };
      await Promise.all(Array.from({ length: Math.min(pending.length, this.#options.maxConcurrent) }, worker));
    }
  }
}
