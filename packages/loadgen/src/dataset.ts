import { readFileSync } from 'node:fs';
import { normal } from './random.js';

export interface Prompt {
  prompt: string;
  promptTokens: number;
  outputTokens: number;
}

/** Tokens are counted as words, the convention the simulated engine shares; real servers report usage. */
export const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length;

const WORDS = ['explain', 'the', 'history', 'of', 'distributed', 'systems', 'in', 'plain', 'words', 'with', 'examples', 'please'];

/**
 * An endless synthetic set shaped like ShareGPT: log-normal prompt lengths (median ≈ 200 tokens, long tail to
 * 1024) and output lengths (median ≈ 160, up to 512).
 */
export function* syntheticDataset(random: () => number): Generator<Prompt> {
  const logNormal = (median: number, sigma: number, min: number, max: number) =>
    Math.min(max, Math.max(min, Math.round(median * Math.exp(sigma * normal(random)))));
  for (;;) {
    const promptTokens = logNormal(200, 0.8, 4, 1024);
    const outputTokens = logNormal(160, 0.7, 4, 512);
    const prompt = Array.from({ length: promptTokens }, (_, i) => WORDS[(i + Math.floor(random() * WORDS.length)) % WORDS.length]).join(' ');
    yield { prompt, promptTokens, outputTokens };
  }
}

interface ShareGptEntry {
  conversations?: { from?: string; value?: string }[];
}

/**
 * A ShareGPT-format file (benchmark_serving's dataset): the first human turn is the prompt, the reply's
 * length the output length. Like benchmark_serving, drops prompts or replies under 4 tokens and
 * pairs over 1024 prompt or 2048 total tokens, then samples endlessly with the seeded generator.
 */
export function* shareGptDataset(path: string, random: () => number): Generator<Prompt> {
  const entries = JSON.parse(readFileSync(path, 'utf8')) as ShareGptEntry[];
  const usable: Prompt[] = [];
  for (const entry of entries) {
    const turns = entry.conversations ?? [];
    if (turns.length < 2 || typeof turns[0].value !== 'string' || typeof turns[1].value !== 'string') continue;
    const promptTokens = countWords(turns[0].value);
    const outputTokens = countWords(turns[1].value);
    if (promptTokens < 4 || outputTokens < 4 || promptTokens > 1024 || promptTokens + outputTokens > 2048) continue;
    usable.push({ prompt: turns[0].value, promptTokens, outputTokens });
  }
  if (usable.length === 0) throw new Error(`${path} has no usable ShareGPT conversations`);
  for (;;) yield usable[Math.floor(random() * usable.length)];
}
