// A demo run with a real Prometheus, shared by the dashboard tests and the screenshot script: the
// simulated engine, two gateway replicas in front of it (both bridging the engine's state and both
// polling the same GPUs: the fake nvidia-smi on PATH), two Prometheus servers (Debian's binary, one with
// native histograms on and one without) scraping all three every second, and load through both gateways.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBenchmark } from '@inferwatch/loadgen';
import { freePort, startChild } from '../scripts/lib/processes.mjs';
import { loadSlo, renderRules } from './generate-rules.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FAKE_NVIDIA_SMI = join(ROOT, 'test/fixtures/nvidia-smi/bin');

async function startProcess(command, args, ready, env) {
  return (await startChild(command, args, { ready, env })).child;
}

/** Starts everything; `stop()` ends it all and removes Prometheus's data. */
/** The engines the lab can run: the simulator, or node-llama-cpp on the tiny generated model. */
const ENGINES = {
  sim: { script: 'examples/engine-sim/server.mjs', args: ['--decode-base-ms', '6', '--num-gpu-blocks', '4096'], ready: 'simulated engine serving', model: 'sim-llama-8b' },
  // One sequence, so requests wait now and then at the lab's rates.
  llama: { script: 'examples/llama-server/server.mjs', args: ['--sequences', '1'], ready: 'node-llama-cpp serving', model: 'tiny-llama' },
};

export async function startLab({ prometheusBinary = 'prometheus', scrapeIntervalS = 1, engine: engineName = 'sim' } = {}) {
  const { script, args: engineArgs, ready, model } = ENGINES[engineName];
  const env = { PATH: `${FAKE_NVIDIA_SMI}:${process.env.PATH}`, INFERWATCH_FAKE_NVIDIA_SMI: '2gpu-busy-driver384.xml' };
  const children = [];
  const node = async (script, args, ready) => {
    const port = await freePort();
    children.push(await startProcess(process.execPath, [join(ROOT, script), '--port', String(port), ...args], ready, env));
    return `127.0.0.1:${port}`;
  };
  const engine = await node(script, [...engineArgs, '--log-interval-ms', '600000'], ready);
  // The bridge reads the engine four times a second, so a replica's view of a moving state is dense enough to average over a run.
  const gatewayArgs = ['--host', '127.0.0.1', '--upstream', `http://${engine}`, '--bridge-interval-ms', '250', '--log-interval-ms', '600000', '--gpu'];
  const gateways = [await node('examples/gateway/main.mjs', gatewayArgs, 'gateway on'), await node('examples/gateway/main.mjs', gatewayArgs, 'gateway on')];

  // Two Prometheus servers scrape the same processes: one with native histograms on, as the dashboards'
  // compose file runs it, and one without, reading the classic buckets a text scraper gets. Both load the
  // shipped rules, evaluated as often as they scrape (not every 30 s, which can leave a short run with no
  // recorded series yet): the dashboards' SLO panels read them.
  const jobs = { 'inferwatch-gateway': gateways, 'inferwatch-engine': [engine] };
  const rules = renderRules(loadSlo(), { interval: `${scrapeIntervalS}s` });
  const prom = await startPrometheus(jobs, { prometheusBinary, scrapeIntervalS, rules, nativeHistograms: true });
  children.push(prom.child);
  const classic = await startPrometheus(jobs, { prometheusBinary, scrapeIntervalS, rules });
  children.push(classic.child);
  const { prometheus, query } = prom;

  return {
    engine,
    gateways,
    prometheus,
    /** Load through both gateways at `rate` requests/s each for about `seconds`; the load generator's results, one per gateway. */
    async load(rate, seconds) {
      return Promise.all(
        gateways.map((g, i) => runBenchmark({ baseUrl: `http://${g}`, model, numPrompts: Math.round(rate * seconds), requestRate: rate, seed: i + 1 })),
      );
    },
    /**
     * `count` streamed requests through each gateway, `rate` a second, each cancelled by its client after
     * `afterMs`; resolves to how many were cancelled before they finished.
     */
    async abort(rate, count, afterMs) {
      let cancelled = 0;
      const one = async (g) => {
        try {
          const res = await fetch(`http://${g}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model, prompt: 'cancel me soon', max_tokens: 400, stream: true }),
            signal: AbortSignal.timeout(afterMs),
          });
          for await (const chunk of res.body) void chunk;
        } catch (error) {
          // Only the client's own timeout counts: a refused or broken request was no cancellation.
          if (error?.name === 'TimeoutError') cancelled++;
        }
      };
      const pending = [];
      for (let i = 0; i < count; i++) {
        for (const g of gateways) pending.push(one(g));
        await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
      }
      await Promise.all(pending);
      return cancelled;
    },
    /**
     * Opens `count` long streamed requests, alternately through each gateway, and holds them: the
     * engine's running and waiting counts stay put while they decode. Returns a function that cancels them.
     */
    hold(count, maxTokens) {
      const controller = new AbortController();
      for (let i = 0; i < count; i++) {
        const g = gateways[i % gateways.length];
        void fetch(`http://${g}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, prompt: 'hold on', max_tokens: maxTokens, stream: true }),
          signal: controller.signal,
        })
          .then(async (res) => {
            for await (const chunk of res.body) void chunk;
          })
          .catch(() => {});
      }
      return () => controller.abort();
    },
    /** An instant query to the Prometheus with native histograms. */
    query,
    /** The same, to the Prometheus without them. */
    classicQuery: classic.query,
    async queryRange(expr, start, end, step) {
      const url = `${prometheus}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=${step}`;
      const body = await (await fetch(url)).json();
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
      return body.data.result;
    },
    async stop() {
      for (const child of children.reverse()) {
        if (child.exitCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      prom.remove();
      classic.remove();
    },
  };
}

/**
 * Prometheus scraping `jobs` ({ job: ['host:port', …] }) every `scrapeIntervalS`, with its data in a
 * temporary folder, evaluating `rules` ({ 'file.yaml': text }, written there). Returns its URL,
 * `query(expr, time)`, its process and `remove()` for the folder.
 */
export async function startPrometheus(jobs, { prometheusBinary = 'prometheus', scrapeIntervalS = 1, nativeHistograms = false, rules = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'inferwatch-prometheus-'));
  const config = join(dir, 'prometheus.yaml');
  for (const [file, text] of Object.entries(rules)) writeFileSync(join(dir, file), text);
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${scrapeIntervalS}s`,
      `  evaluation_interval: ${scrapeIntervalS}s`,
      ...(Object.keys(rules).length > 0 ? ['rule_files:', ...Object.keys(rules).map((file) => `  - ${join(dir, file)}`)] : []),
      'scrape_configs:',
      ...Object.entries(jobs).flatMap(([job, targets]) => [`  - job_name: ${job}`, '    static_configs:', `      - targets: [${targets.map((t) => `"${t}"`).join(', ')}]`]),
      '',
    ].join('\n'),
  );
  const port = await freePort();
  let child;
  try {
    child = await startProcess(
      prometheusBinary,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=info',
        // Prometheus 2.x asks for the protobuf format, and keeps native histograms, only with this flag (3.9+: scrape_native_histograms).
        ...(nativeHistograms ? ['--enable-feature=native-histograms'] : []),
      ],
      'Server is ready to receive web requests',
      {},
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const prometheus = `http://127.0.0.1:${port}`;
  return {
    prometheus,
    child,
    /** An instant query; returns the result vector. */
    async query(expr, time) {
      const url = `${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}${time === undefined ? '' : `&time=${time}`}`;
      const body = await (await fetch(url)).json();
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
      return body.data.result;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Grafana's variables, as the tests and the screenshots resolve them: one job, all its instances and models. */
export function resolveVariables(expr, { job = 'inferwatch-gateway', rateInterval = '15s', range = '1m' } = {}) {
  return expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__range', range)
    .replaceAll('$job', job)
    .replaceAll('$instance', '.*')
    .replaceAll('$model', '.*')
    .replaceAll('$tenant', '.*');
}

/** Every panel of a dashboard, the ones inside rows included. */
export function allPanels(dashboard) {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}
