import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample, startProcess, type Started } from '../helpers/processes.js';

// A worker whose IPC channel closed while it lives on: until its exit retires it, the primary still asks it
// at each scrape. Node reports a send on a closed channel as an 'error' event, which ended the primary when
// nothing listened for it; the scrape must instead answer at once with the worker's last state.
describe('a scrape while a cluster worker cannot be reached', () => {
  let app: Started;
  beforeAll(async () => {
    app = await startProcess('test/cluster/disconnecting-worker.mjs', [], 'ready');
  }, 30_000);
  afterAll(() => app?.stop());

  it('answers with what the worker recorded, and the primary lives on', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(sample(text, 'inferwatch_requests_finished_total{gen_ai_request_model="m",gen_ai_operation_name="chat",gen_ai_provider_name="unknown",finish_reason="stop"}')).toBe(1);
    }
    expect(app.child.exitCode).toBeNull();
    expect(app.output()).not.toContain('ERR_IPC_CHANNEL_CLOSED');
  });
});
