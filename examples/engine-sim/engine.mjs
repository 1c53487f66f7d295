// The simulated engine: vLLM's continuous batching in miniature. A waiting queue; at most maxNumSeqs
// running; a KV cache of numGpuBlocks × blockSize tokens allocated per sequence as it grows;
// admission only when blocks are free; when a decode step runs out of blocks, the newest sequences
// are preempted (swapped to CPU blocks, or recomputed when those are full) and resumed first later.
// Prefill costs time per prompt token; a decode step costs a base plus time per running sequence and
// gives every running sequence one token. Every event goes to the sequence's @inferwatch/sdk handle.

/** @typedef {import('@inferwatch/sdk').LlmMetrics} LlmMetrics */
/** @typedef {import('@inferwatch/sdk').RequestHandle} RequestHandle */
/** @typedef {typeof DEFAULTS} EngineOptions */

/**
 * What `submit` takes.
 * @typedef {object} Submission
 * @property {RequestHandle} handle
 * @property {number} promptTokens
 * @property {number} outputTokens  the tokens it generates
 * @property {number | undefined} maxTokens  the request's max_tokens, if it gave one
 * @property {boolean} [stopped]
 * @property {(index: number) => void} onToken
 * @property {(finishReason: string) => void} onEnd
 */

/**
 * A sequence in the engine: the request, and the KV-cache blocks it holds.
 * @typedef {object} Sequence
 * @property {RequestHandle} handle
 * @property {number} promptTokens
 * @property {number} target  the tokens it generates
 * @property {number | undefined} maxTokens
 * @property {boolean} stopped
 * @property {number} generated
 * @property {number} blocks
 * @property {boolean} onCpu
 * @property {boolean} needsPrefill
 * @property {(index: number) => void} onToken
 * @property {(finishReason: string) => void} onEnd
 * @property {boolean} done
 */

export const DEFAULTS = {
  maxNumSeqs: 24,
  numGpuBlocks: 320,
  numCpuBlocks: 96,
  blockSize: 16,
  prefillMsPerToken: 0.04,
  decodeBaseMs: 15,
  decodeMsPerSeq: 0.5,
};

export class Engine {
  /**
   * @param {LlmMetrics} llm
   * @param {{ [K in keyof EngineOptions]?: number | undefined }} [options]  undefined: the default
   */
  constructor(llm, options = {}) {
    this.llm = llm;
    /** @type {EngineOptions} */
    this.o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    /** @type {Sequence[]} */
    this.waiting = [];
    /** @type {Sequence[]} */
    this.running = [];
    /** @type {Sequence[]} */
    this.swapped = [];
    this.freeGpu = this.o.numGpuBlocks;
    this.freeCpu = this.o.numCpuBlocks;
    this.stepping = false;
    this.report();
  }

  /**
   * Queues a sequence; `onToken(index)` for each output token, `onEnd(finishReason)` once. `stopped`: its
   * last token completes a stop sequence, so it ends with `stop` even at max_tokens, as vLLM's does.
   * @param {Submission} submission
   * @returns {Sequence}
   */
  submit({ handle, promptTokens, outputTokens, maxTokens, stopped = false, onToken, onEnd }) {
    const seq = { handle, promptTokens, target: outputTokens, maxTokens, stopped, generated: 0, blocks: 0, onCpu: false, needsPrefill: true, onToken, onEnd, done: false };
    this.waiting.push(seq);
    this.report();
    this.wake();
    return seq;
  }

  /**
   * The client left: free everything the sequence holds.
   * @param {Sequence} seq
   */
  cancel(seq) {
    if (seq.done) return;
    seq.done = true;
    for (const list of [this.waiting, this.running, this.swapped]) {
      const i = list.indexOf(seq);
      if (i !== -1) list.splice(i, 1);
    }
    this.release(seq);
    seq.handle.abort();
    this.report();
  }

  /** @param {number} tokens */
  blocksFor(tokens) {
    return Math.ceil(tokens / this.o.blockSize);
  }

  /** @param {Sequence} seq */
  release(seq) {
    if (seq.onCpu) this.freeCpu += seq.blocks;
    else this.freeGpu += seq.blocks;
    seq.blocks = 0;
    seq.onCpu = false;
  }

  wake() {
    if (this.stepping) return;
    this.stepping = true;
    setImmediate(() => this.step());
  }

  /** Scheduling, then one model step (prefill of the newly admitted, one token for every running sequence). */
  step() {
    const at = this.llm.now();
    const o = this.o;
    // Swapped sequences come back first, and nothing new is admitted while any still waits to.
    while (this.swapped.length > 0 && this.running.length < o.maxNumSeqs) {
      const seq = this.swapped[0];
      const need = seq.onCpu ? seq.blocks : this.blocksFor(seq.promptTokens + seq.generated + 1);
      if (need > this.freeGpu) break;
      this.swapped.shift();
      if (seq.onCpu) this.freeCpu += seq.blocks;
      seq.onCpu = false;
      seq.blocks = need;
      this.freeGpu -= need;
      seq.handle.resumed(at);
      this.running.push(seq);
    }
    let prefillTokens = 0;
    while (this.swapped.length === 0 && this.waiting.length > 0 && this.running.length < o.maxNumSeqs) {
      const seq = this.waiting[0];
      const need = this.blocksFor(seq.promptTokens + 1);
      if (need > this.freeGpu) break;
      this.waiting.shift();
      seq.blocks = need;
      this.freeGpu -= need;
      seq.handle.scheduled(at);
      this.running.push(seq);
    }
    for (const seq of this.running) {
      if (!seq.needsPrefill) continue;
      prefillTokens += seq.promptTokens + seq.generated;
    }
    if (this.running.length === 0) {
      this.stepping = false;
      this.report();
      return;
    }
    const ms = o.decodeBaseMs + o.decodeMsPerSeq * this.running.length + o.prefillMsPerToken * prefillTokens;
    this.report();
    setTimeout(() => this.finishStep(), ms);
  }

  finishStep() {
    const at = this.llm.now();
    for (const seq of [...this.running]) {
      if (seq.done || !this.running.includes(seq)) continue;
      if (!this.makeRoom(seq, at)) continue;
      seq.needsPrefill = false;
      seq.generated++;
      if (seq.generated === 1) seq.handle.firstToken(at);
      else seq.handle.tokens(1, at);
      seq.onToken(seq.generated - 1);
      if (seq.generated >= seq.target) this.finish(seq, at);
    }
    this.step();
  }

  /**
   * Makes sure `seq` has a block for its next token, preempting the newest sequences if it must.
   * @param {Sequence} seq
   * @param {number} at
   */
  makeRoom(seq, at) {
    const need = this.blocksFor(seq.promptTokens + seq.generated + 1);
    while (need > seq.blocks) {
      if (this.freeGpu > 0) {
        this.freeGpu--;
        seq.blocks++;
        continue;
      }
      const victim = this.running[this.running.length - 1];
      this.preempt(victim, at);
      if (victim === seq) return false;
    }
    return true;
  }

  /**
   * @param {Sequence} seq
   * @param {number} at
   */
  preempt(seq, at) {
    this.running.splice(this.running.indexOf(seq), 1);
    if (seq.blocks <= this.freeCpu) {
      this.freeCpu -= seq.blocks;
      this.freeGpu += seq.blocks;
      seq.onCpu = true;
    } else {
      // No room on the CPU either: drop its KV cache and recompute it on resumption.
      this.freeGpu += seq.blocks;
      seq.blocks = 0;
      seq.needsPrefill = true;
    }
    seq.handle.preempted(at);
    this.swapped.push(seq);
  }

  /**
   * @param {Sequence} seq
   * @param {number} at
   */
  finish(seq, at) {
    seq.done = true;
    this.running.splice(this.running.indexOf(seq), 1);
    this.release(seq);
    const finishReason = !seq.stopped && seq.maxTokens !== undefined && seq.generated >= seq.maxTokens ? 'length' : 'stop';
    seq.handle.end({ finishReason, promptTokens: seq.promptTokens, outputTokens: seq.generated, at });
    seq.onEnd(finishReason);
  }

  state() {
    return {
      running: this.running.length,
      waiting: this.waiting.length,
      swapped: this.swapped.length,
      gpuKvCacheUsage: 1 - this.freeGpu / this.o.numGpuBlocks,
      cpuKvCacheUsage: this.o.numCpuBlocks === 0 ? 0 : 1 - this.freeCpu / this.o.numCpuBlocks,
    };
  }

  report() {
    this.llm.reportEngineState(this.state());
  }
}
