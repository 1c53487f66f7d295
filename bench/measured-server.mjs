// The scraped process's side of the scrape benchmarks: an HTTP server for a metrics handler that records,
// per scrape it answers, the longest event-loop block from the request to 20 ms after the response
// (monitorEventLoopDelay at 1 ms resolution).
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The server (not yet listening) and `takeBlocks()`, which returns the blocks recorded since its last call. */
export function measuredServer(metricsHandler) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const blocks = [];
  const server = createServer((req, res) => {
    delay.reset();
    res.once('finish', () => setTimeout(() => blocks.push(delay.max / 1e6), 20));
    metricsHandler(req, res);
  });
  server.keepAliveTimeout = 60_000;
  return { server, takeBlocks: () => blocks.splice(0) };
}
