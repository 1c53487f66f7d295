import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getLlama, LlamaCompletion } from 'node-llama-cpp';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { ensureTinyModel, tinyModelBytes } from '../../examples/llama-server/make-tiny-model.mjs';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the generated tiny model', () => {
  it('is the same file every time, and cached', () => {
    const path = ensureTinyModel();
    expect(sha(tinyModelBytes())).toBe(sha(readFileSync(path)));
    expect(ensureTinyModel()).toBe(path);
  });

  it('loads in node-llama-cpp on the CPU and generates tokens', async () => {
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    const model = await llama.loadModel({ modelPath: ensureTinyModel() });
    const context = await model.createContext({ sequences: 1, threads: 1, contextSize: 256 });
    try {
      const sequence = context.getSequence();
      let onTokens = 0;
      const { response, metadata } = await new LlamaCompletion({ contextSequence: sequence }).generateCompletionWithMeta('the model says', {
        maxTokens: 12,
        onToken: (tokens) => {
          onTokens += tokens.length;
        },
      });
      // A random model may pick its end-of-generation token early; either way tokens were sampled.
      expect(['maxTokens', 'eogToken']).toContain(metadata.stopReason);
      expect(sequence.tokenMeter.usedOutputTokens).toBeGreaterThan(0);
      expect(sequence.tokenMeter.usedOutputTokens).toBeLessThanOrEqual(12);
      if (metadata.stopReason === 'maxTokens') expect(onTokens).toBe(12);
      expect(typeof response).toBe('string');
      expect(sequence.nextTokenIndex).toBe(sequence.tokenMeter.usedInputTokens + sequence.tokenMeter.usedOutputTokens);
    } finally {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    }
  });
});
