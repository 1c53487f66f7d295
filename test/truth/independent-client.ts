import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Timed {
  ok: boolean;
  /** ms from the first byte the client sent to the first token it read */
  ttft: number;
  /** ms from the first byte the client sent to the end of the response */
  e2e: number;
  /** ms from the first byte the client sent to the response's headers */
  headers: number;
  /**
   * Per token after the first, ms since the previous one, as a server times them: the tokens that arrive in
   * one read share the gap since the previous read.
   */
  itls: number[];
  tokens: number;
}

/**
 * One streamed completion over plain node:http, on a fresh connection, timed by this client alone.
 * With trickleMs the body goes out in four parts spread over that time, as a slow client sends it.
 * With fromConnect the clock starts once the connection is open: the TCP handshake is a cost no server-side
 * timer can see, and at tens of milliseconds of TTFT it would weigh several percent.
 */
export function timedCompletion(baseUrl: string, body: object, trickleMs = 0, fromConnect = false): Promise<Timed> {
  const raw = Buffer.from(JSON.stringify({ ...body, stream: true }));
  return new Promise((resolve) => {
    let ttft = NaN;
    let tokens = 0;
    let done = false;
    let pending = '';
    let lastRead = NaN;
    let headers = NaN;
    const itls: number[] = [];
    let start = performance.now();
    const req = request(`${baseUrl}/v1/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': raw.length } }, (res) => {
      headers = performance.now() - start;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const now = performance.now();
        const before = tokens;
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const event = pending.slice(0, end).replace(/^data: /, '');
          pending = pending.slice(end + 2);
          if (event === '[DONE]') {
            done = true;
            continue;
          }
          const text = (JSON.parse(event) as { choices?: { text?: string }[] }).choices?.[0]?.text;
          if (text) {
            if (tokens === 0) ttft = now - start;
            tokens++;
          }
        }
        // The first token of the stream is timed alone (TTFT); the rest of this read share its gap.
        const timed = tokens - Math.max(before, 1);
        if (timed > 0) for (let i = 0; i < timed; i++) itls.push((now - (before === 0 ? start + ttft : lastRead)) / timed);
        if (tokens > before) lastRead = now;
      });
      res.on('end', () => resolve({ ok: res.statusCode === 200 && done, ttft, e2e: performance.now() - start, headers, itls, tokens }));
      res.on('error', () => resolve({ ok: false, ttft, e2e: NaN, headers, itls, tokens }));
    });
    req.on('error', () => resolve({ ok: false, ttft, e2e: NaN, headers, itls, tokens }));
    if (fromConnect) req.once('socket', (socket) => socket.once('connect', () => (start = performance.now())));
    if (trickleMs <= 0) return void req.end(raw);
    const part = Math.ceil(raw.length / 4);
    req.write(raw.subarray(0, part));
    for (let i = 1; i < 4; i++) setTimeout(() => (i < 3 ? req.write(raw.subarray(i * part, (i + 1) * part)) : req.end(raw.subarray(i * part))), (i * trickleMs) / 3);
  });
}
