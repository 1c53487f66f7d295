// A concurrency limit with a bounded FIFO queue: time spent waiting here is the gateway's queue time.

export class QueueFullError extends Error {}

export class Limiter {
  constructor(maxConcurrency, maxQueue) {
    this.maxConcurrency = maxConcurrency;
    this.maxQueue = maxQueue;
    this.active = 0;
    this.queue = [];
  }

  /** Resolves when a slot is free; rejects with QueueFullError when the queue is full, or when `signal` aborts first. */
  acquire(signal) {
    if (this.active < this.maxConcurrency) {
      this.active++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError('the gateway queue is full'));
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      this.queue.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(entry);
          if (i === -1) return;
          this.queue.splice(i, 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  release() {
    const next = this.queue.shift();
    if (next) next.resolve();
    else this.active--;
  }
}
