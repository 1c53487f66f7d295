import type { Prompt } from './dataset.js';

export interface RequestResult {
  ok: boolean;
  error?: string;
  /** ms from sending to the first content token */
  ttft: number;
  /** ms between consecutive content tokens */
  itls: number[];
  /** ms from sending to the end of the response */
  e2e: number;
  promptTokens: number;
  outputTokens: number;
}

/**
 * Sends one streaming completion and times it as benchmark_serving does: the first chunk with content
 * gives TTFT, each later one an inter-token latency; tokens come from the final usage when the server
 * sends one, else from the content chunks.
 */
export async function sendRequest(url: string, chat: boolean, model: string, item: Prompt, signal?: AbortSignal): Promise<RequestResult> {
  const body = {
    model,
    ...(chat ? { messages: [{ role: 'user', content: item.prompt }] } : { prompt: item.prompt }),
    max_tokens: item.outputTokens,
    stream: true,
    stream_options: { include_usage: true },
  };
  const result: RequestResult = { ok: false, ttft: NaN, itls: [], e2e: NaN, promptTokens: item.promptTokens, outputTokens: 0 };
  const start = performance.now();
  let last = NaN;
  let chunks = 0;
  let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    if (!res.ok || res.body === null) {
      result.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
      return result;
    }
    const decoder = new TextDecoder();
    let pending = '';
    for await (const bytes of res.body) {
      pending += decoder.decode(bytes, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') continue;
        const event = JSON.parse(data);
        if (event.error) throw new Error(event.error.message ?? 'error event');
        if (event.usage) usage = event.usage;
        const choice = event.choices?.[0];
        const content = chat ? choice?.delta?.content : choice?.text;
        if (typeof content !== 'string' || content === '') continue;
        const now = performance.now();
        if (chunks === 0) result.ttft = now - start;
        else result.itls.push(now - last);
        last = now;
        chunks++;
      }
    }
    result.e2e = performance.now() - start;
    result.outputTokens = usage?.completion_tokens ?? chunks;
    result.promptTokens = usage?.prompt_tokens ?? item.promptTokens;
    result.ok = chunks > 0;
    if (!result.ok) result.error = 'no content in the response';
  } catch (error) {
    result.error = String((error as Error)?.message ?? error);
  }
  return result;
}
