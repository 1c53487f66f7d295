#!/usr/bin/env node
// Writes a tiny llama-architecture GGUF (v3) with seeded random weights, so node-llama-cpp runs real
// inference here without downloading a model: 2 layers, embedding 64, context 2048, and a
// SentencePiece-style ("llama") vocabulary of byte tokens plus a few hundred word pieces (among them
// every word of the load generator's synthetic prompts, so a word is a token there). The same
// seed gives the same bytes; the file is cached (.cache/, ignored by git) and written only once.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seeded } from '@inferwatch/loadgen';

// The version names the file: bump it whenever the bytes change (test/llama/tiny-model.test.ts notices).
const VERSION = 2;
export const TINY_MODEL_PATH = fileURLToPath(new URL(`../../.cache/models/inferwatch-tiny-llama-v${VERSION}.gguf`, import.meta.url));

const ALIGNMENT = 32;
const SHAPE = { embedding: 64, layers: 2, heads: 4, feedForward: 128, context: 2048 };
const WORDS = `the of and to in is that it was for on are as with his they at be this from have or by one
had not but what all were when we there can an your which their said if do will each about how up out
them then she many some so these would other into has more her two like him see time could no make than
first been its who now people my made over did down only way find use may water long little very after
words called just where most know model says tokens flow through engine quietly steadily
explain history distributed systems plain examples please`.split(/\s+/);

// GGUF value types and ggml tensor types (ggml/docs/gguf.md).
/** @typedef {string | number | boolean} GgufValue  a string, a number (of any of the numeric types) or a bool */
const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };
const GGML_F32 = 0;
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 };

function vocabulary() {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.BYTE);
    scores.push(0);
  }
  // The SentencePiece merge joins two adjacent pieces only when their concatenation is a token, so
  // every prefix of a word is one: "▁", "▁t", "▁th", "▁the". Longer pieces score higher.
  const pieces = new Set();
  for (const word of WORDS) {
    const piece = `\u2581${word}`;
    for (let i = 1; i <= piece.length; i++) pieces.add(piece.slice(0, i));
    for (const ch of word) pieces.add(ch);
  }
  for (const piece of [...pieces].sort()) {
    tokens.push(piece);
    types.push(TOKEN_TYPE.NORMAL);
    scores.push(piece.length);
  }
  return { tokens, types, scores };
}

class Writer {
  /** @type {Buffer[]} */
  chunks = [];
  size = 0;
  /** @param {Buffer} buf */
  push(buf) {
    this.chunks.push(buf);
    this.size += buf.length;
  }
  /** @param {number} v */
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  /** @param {number} v */
  i32(v) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  /** @param {number} v */
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  /** @param {number} v */
  f32(v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  /** @param {string} s */
  str(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  pad() {
    const rest = this.size % ALIGNMENT;
    if (rest !== 0) this.push(Buffer.alloc(ALIGNMENT - rest));
  }
  bytes() {
    return Buffer.concat(this.chunks);
  }
}

/** @typedef {{ name: string, dims: number[], fill: (i: number) => number }} Tensor  its dimensions, and its i-th value */

/**
 * @param {number} vocabSize
 * @param {() => number} rand  uniform in [0, 1)
 */
function tensors(vocabSize, rand) {
  const { embedding: e, layers, feedForward: ff } = SHAPE;
  /** @type {Tensor[]} */
  const list = [];
  // ggml lists dimensions innermost first: a [n_out, n_in] matrix is written as [n_in, n_out].
  /**
   * @param {string} name
   * @param {number[]} dims
   * @param {number} scale
   * @param {(i: number) => boolean} [keep]  false: the i-th value is 0
   */
  const weight = (name, dims, scale, keep = () => true) => list.push({ name, dims, fill: (i) => (keep(i) ? (rand() * 2 - 1) * scale : 0) });
  /**
   * @param {string} name
   * @param {number[]} dims
   */
  const ones = (name, dims) => list.push({ name, dims, fill: () => 1 });
  weight('token_embd.weight', [e, vocabSize], 1);
  ones('output_norm.weight', [e]);
  // The special tokens and the bytes that start or continue a multi-byte character get a zero output
  // row (logit 0, below every other token's best): greedy decoding then writes whole characters and
  // runs to max_tokens, while sampling still ends on </s> now and then.
  /** @param {number} token */
  const silent = (token) => token < 3 || token >= 3 + 0x80 && token < 3 + 0x100;
  weight('output.weight', [e, vocabSize], 4 / Math.sqrt(e), (i) => !silent(Math.floor(i / e)));
  for (let i = 0; i < layers; i++) {
    ones(`blk.${i}.attn_norm.weight`, [e]);
    for (const m of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) weight(`blk.${i}.${m}.weight`, [e, e], 1 / Math.sqrt(e));
    ones(`blk.${i}.ffn_norm.weight`, [e]);
    weight(`blk.${i}.ffn_gate.weight`, [e, ff], 1 / Math.sqrt(e));
    weight(`blk.${i}.ffn_up.weight`, [e, ff], 1 / Math.sqrt(e));
    weight(`blk.${i}.ffn_down.weight`, [ff, e], 1 / Math.sqrt(ff));
  }
  return list;
}

export function tinyModelBytes(seed = 42) {
  const { tokens, types, scores } = vocabulary();
  const rand = seeded(seed);
  const list = tensors(tokens.length, rand);
  const { embedding, layers, heads, feedForward, context } = SHAPE;
  // Each value of the type its entry names; an array's is [element type, items].
  /** @type {[key: string, type: number, value: GgufValue | [elementType: number, items: GgufValue[]]][]} */
  const kv = [
    ['general.architecture', T.STRING, 'llama'],
    ['general.name', T.STRING, 'inferwatch-tiny-llama'],
    ['general.alignment', T.UINT32, ALIGNMENT],
    ['llama.context_length', T.UINT32, context],
    ['llama.embedding_length', T.UINT32, embedding],
    ['llama.block_count', T.UINT32, layers],
    ['llama.feed_forward_length', T.UINT32, feedForward],
    ['llama.attention.head_count', T.UINT32, heads],
    ['llama.attention.head_count_kv', T.UINT32, heads],
    ['llama.rope.dimension_count', T.UINT32, embedding / heads],
    ['llama.attention.layer_norm_rms_epsilon', T.FLOAT32, 1e-5],
    ['llama.vocab_size', T.UINT32, tokens.length],
    ['tokenizer.ggml.model', T.STRING, 'llama'],
    ['tokenizer.ggml.tokens', T.ARRAY, [T.STRING, tokens]],
    ['tokenizer.ggml.scores', T.ARRAY, [T.FLOAT32, scores]],
    ['tokenizer.ggml.token_type', T.ARRAY, [T.INT32, types]],
    ['tokenizer.ggml.unknown_token_id', T.UINT32, 0],
    ['tokenizer.ggml.bos_token_id', T.UINT32, 1],
    ['tokenizer.ggml.eos_token_id', T.UINT32, 2],
    ['tokenizer.ggml.add_bos_token', T.BOOL, true],
    ['tokenizer.ggml.add_eos_token', T.BOOL, false],
  ];
  const w = new Writer();
  w.push(Buffer.from('GGUF', 'ascii'));
  w.u32(3);
  w.u64(list.length);
  w.u64(kv.length);
  /**
   * @param {number} type
   * @param {GgufValue} v  of that type
   */
  const value = (type, v) => {
    if (type === T.STRING) w.str(/** @type {string} */ (v));
    else if (type === T.UINT32) w.u32(/** @type {number} */ (v));
    else if (type === T.INT32) w.i32(/** @type {number} */ (v));
    else if (type === T.FLOAT32) w.f32(/** @type {number} */ (v));
    else if (type === T.BOOL) w.push(Buffer.from([v ? 1 : 0]));
  };
  for (const [key, type, v] of kv) {
    w.str(key);
    w.u32(type);
    if (type !== T.ARRAY) value(type, /** @type {GgufValue} */ (v));
    else {
      const [elementType, items] = /** @type {[number, GgufValue[]]} */ (v);
      w.u32(elementType);
      w.u64(items.length);
      for (const item of items) value(elementType, item);
    }
  }
  let offset = 0;
  const data = [];
  for (const t of list) {
    const count = t.dims.reduce((a, b) => a * b, 1);
    const buf = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) buf.writeFloatLE(t.fill(i), i * 4);
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_F32);
    w.u64(offset);
    data.push(buf);
    offset += Math.ceil(buf.length / ALIGNMENT) * ALIGNMENT;
  }
  w.pad();
  for (const buf of data) {
    w.push(buf);
    w.pad();
  }
  return w.bytes();
}

/** The tiny model's path, written first if it is not there yet. */
export function ensureTinyModel(path = TINY_MODEL_PATH) {
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  // Written aside and renamed, so a concurrent reader never sees half a file.
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, tinyModelBytes());
  renameSync(partial, path);
  return path;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(ensureTinyModel());
