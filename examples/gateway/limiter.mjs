// A concurrency limit with a bounded FIFO queue: time spent waiting here is the gateway's queue time.

export class QueueFullError extends Error {}

/** @typedef {{ release(): void }} Slot  a held place among the `maxConcurrency` */

export class Limiter {
  /**
   * @param {number} maxConcurrency
   * @param {number} maxQueue
   */
  constructor(maxConcurrency, maxQueue) {
    this.maxConcurrency = maxConcurrency;
    this.maxQueue = maxQueue;
    this.active = 0;
    /** @type {{ grant(): void }[]} */
    this.queue = [];
  }

  /**
   * Resolves to a slot once one is free; rejects with QueueFullError when the queue is full, or with
   * `signal.reason` when `signal` aborts first (or already has). `slot.release()` may be called any
   * number of times: only the first frees it.
   * @param {AbortSignal} [signal]
   * @returns {Promise<Slot>}
   */
  acquire(signal) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxConcurrency) {
      this.active++;
      return Promise.resolve(this.slot());
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError('the gateway queue is full'));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.queue.indexOf(entry);
        if (i === -1) return;
        this.queue.splice(i, 1);
        reject(signal?.reason);
      };
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.slot());
        },
      };
      this.queue.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** @returns {Slot} */
  slot() {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const next = this.queue.shift();
        // The slot passes straight to the next in line: `active` stays the same.
        if (next) next.grant();
        else this.active--;
      },
    };
  }
}
