// The scraped side of the scrape benchmark, in its own process so the scraping client's work is not
// counted as the host's: `node bench/scrape-server.mjs <data> [histograms]` builds one data set of
// bench/scrape-data.mjs (`fifty` in the given mode, `tenants`, `gateway`), serves its /metrics, and records,
// per scrape, the longest event-loop block (monitorEventLoopDelay at 1 ms resolution, from the request to
// 20 ms after the response). Sends the blocks to the parent when asked.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startMetrics } from '@inferwatch/sdk';
import { fiftyModels, gateway, tenants } from './scrape-data.mjs';

const [data, histograms] = process.argv.slice(2);
const telemetry =
  data === 'gateway'
    ? gateway(startMetrics)
    : startMetrics({ llm: data === 'tenants' ? tenants() : fiftyModels(histograms), meterProvider: 'private', otlp: false });
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const blocks = [];
const server = createServer((req, res) => {
  delay.reset();
  res.once('finish', () => setTimeout(() => blocks.push(delay.max / 1e6), 20));
  telemetry.metricsHandler(req, res);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (message) => {
  if (message === 'blocks') process.send({ blocks: blocks.splice(0) });
});
