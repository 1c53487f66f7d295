// The scraped side of the scrape benchmark, in its own process so the scraping client's work is not
// counted as the host's: `node bench/scrape-server.mjs <data> [histograms]` builds one data set of
// bench/scrape-data.mjs (`fifty` in the given mode, `tenants`, `gateway`), serves its /metrics, and records,
// per scrape, the longest event-loop block (monitorEventLoopDelay at 1 ms resolution, from the request to
// 20 ms after the response). Sends the blocks to the parent when asked.
import { startMetrics } from '@inferwatch/sdk';
import { measuredServer } from './measured-server.mjs';
import { fiftyModels, gateway, tenants } from './scrape-data.mjs';

const [data, histograms] = process.argv.slice(2);
const telemetry =
  data === 'gateway'
    ? gateway(startMetrics)
    : startMetrics({ llm: data === 'tenants' ? tenants() : fiftyModels(histograms), meterProvider: 'private', otlp: false });
const { server, takeBlocks } = measuredServer(telemetry.metricsHandler);
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (message) => {
  if (message === 'blocks') process.send({ blocks: takeBlocks() });
});
