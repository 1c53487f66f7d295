// The engine-state bridge: scrapes each upstream's Prometheus /metrics (vLLM's names, V0 or V1, or
// the simulated engine's) and hands scheduler state and KV-cache usage to the gateway's recorder,
// labelled by upstream: the label says these numbers are the engine's, not this replica's, so the
// dashboards count them once per upstream and the log line prints them under the upstream's name.
// A failed or stale scrape drops that upstream's values rather than repeat them.
import parsePrometheus from 'parse-prometheus-text-format';

const FIELDS = {
  running: ['vllm:num_requests_running', 'inferwatch_scheduler_running'],
  waiting: ['vllm:num_requests_waiting', 'inferwatch_scheduler_waiting'],
  swapped: ['vllm:num_requests_swapped', 'inferwatch_scheduler_swapped'],
  gpuKvCacheUsage: ['vllm:gpu_cache_usage_perc', 'vllm:kv_cache_usage_perc', 'inferwatch_kv_cache_gpu_usage'],
  cpuKvCacheUsage: ['vllm:cpu_cache_usage_perc', 'inferwatch_kv_cache_cpu_usage'],
};
const RATIOS = new Set(['gpuKvCacheUsage', 'cpuKvCacheUsage']);
const WANTED = new Set(Object.values(FIELDS).flat());

/** The lines of an exposition that belong to the families the bridge reads (samples, HELP, TYPE, UNIT). */
function wantedLines(text) {
  const keep = (line) => WANTED.has(line.startsWith('#') ? line.split(' ')[2] : line.split(/[{ ]/, 1)[0]);
  return `${text.split('\n').filter(keep).join('\n')}\n`;
}

/** Engine state from one exposition: counts summed over its series (models, engines), usage averaged. */
export function engineStateFrom(text) {
  // Only the families read here reach the parser: it throws on a whole page over something it cannot
  // flatten (a histogram without labels, such as the SDK's inferwatch_eventloop_delay), which dropped every
  // upstream's state. Its output ends with a newline: the parser drops the last sample of a page without one.
  const families = new Map(parsePrometheus(wantedLines(text)).map((f) => [f.name, f]));
  const state = {};
  for (const [field, names] of Object.entries(FIELDS)) {
    const family = names.map((n) => families.get(n)).find(Boolean);
    const values = (family?.metrics ?? []).map((m) => Number(m.value)).filter(Number.isFinite);
    if (values.length === 0) continue;
    const total = values.reduce((a, b) => a + b, 0);
    state[field] = RATIOS.has(field) ? total / values.length : total;
  }
  return state;
}

export class EngineBridge {
  constructor(llm, urls, { intervalMs = 5000, timeoutMs = 2000 } = {}) {
    this.urls = urls;
    this.intervalMs = intervalMs;
    this.timeoutMs = timeoutMs;
    this.latest = new Map();
    this.unobserve = llm.observeEngineState(() => this.current());
    this.timer = setInterval(() => void this.scrapeAll(), intervalMs).unref();
    void this.scrapeAll();
  }

  current() {
    const freshAfter = Date.now() - 3 * this.intervalMs;
    return [...this.latest].filter(([, s]) => s.at >= freshAfter).map(([upstream, s]) => ({ ...s.state, attributes: { upstream } }));
  }

  async scrapeAll() {
    await Promise.all(this.urls.map((url) => this.scrape(url)));
  }

  async scrape(url) {
    try {
      const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const state = engineStateFrom(await res.text());
      if (Object.keys(state).length > 0) this.latest.set(url, { state, at: Date.now() });
      else this.latest.delete(url);
    } catch {
      this.latest.delete(url);
    }
  }

  stop() {
    clearInterval(this.timer);
    this.unobserve();
  }
}
