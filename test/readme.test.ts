import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const sdkDir = fileURLToPath(new URL('../packages/sdk/', import.meta.url));

describe('packages/sdk/README.md', () => {
  it('has a quick start that runs as written and records what it says', () => {
    const readme = readFileSync(`${sdkDir}README.md`, 'utf8');
    const snippet = /<!-- snippet: quickstart[^>]*-->\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeDefined();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', snippet!], { cwd: sdkDir, encoding: 'utf8' });
    const labels = 'gen_ai_request_model="llama-3.1-8b",gen_ai_operation_name="chat",gen_ai_provider_name="vllm"';
    expect(out.trim().split('\n')).toEqual([
      `inferwatch_tokens_total{${labels},gen_ai_token_type="input"} 42`,
      `inferwatch_tokens_total{${labels},gen_ai_token_type="output"} 4`,
    ]);
  });
});
