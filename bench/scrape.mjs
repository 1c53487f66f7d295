// /metrics with 50 models: time to the last byte over HTTP, plain and gzipped, and the longest
// event-loop block the scrape causes in the scraped process (which runs apart from the client);
// then the OTLP export of the same data.
import { fork } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startMetrics } from '@inferwatch/sdk';
import { SCRAPES, WARM_UP } from './constants.mjs';
import { median, round } from './measure.mjs';
import { fiftyModels } from './scrape-data.mjs';


function scrape(url, headers) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    request(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ ms: performance.now() - start, body: Buffer.concat(chunks), encoding: res.headers['content-encoding'] }));
    })
      .on('error', reject)
      .end();
  });
}

async function series(url, headers) {
  const times = [];
  let last;
  for (let i = 0; i < SCRAPES; i++) {
    last = await scrape(url, headers);
    if (i >= WARM_UP) times.push(last.ms);
    await new Promise((resolve) => setTimeout(resolve, 30)); // let the server record this scrape's block
  }
  return { ms: median(times), last };
}

async function otlpExport() {
  const { createServer } = await import('node:http');
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const telemetry = startMetrics({
    llm: fiftyModels(),
    meterProvider: 'private',
    prometheus: false,
    otlp: { url: `http://127.0.0.1:${receiver.address().port}/v1/metrics`, protocol: 'http/protobuf', intervalMs: 3_600_000 },
  });
  const times = [];
  for (let i = 0; i < SCRAPES; i++) {
    const start = performance.now();
    await telemetry.forceFlush();
    if (i >= WARM_UP) times.push(performance.now() - start);
  }
  await telemetry.shutdown();
  receiver.close();
  return median(times);
}

export async function scrapeBench() {
  const server = fork(fileURLToPath(new URL('./scrape-server.mjs', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await new Promise((resolve) => server.once('message', resolve));
    const url = `http://127.0.0.1:${port}/metrics`;
    const plain = await series(url, { accept: 'text/plain' });
    const { blocks } = await new Promise((resolve) => {
      server.once('message', resolve);
      server.send('blocks');
    });
    const gzip = await series(url, { accept: 'text/plain', 'accept-encoding': 'gzip' });
    if (gzip.last.encoding !== 'gzip') throw new Error('the gzip scrape was not gzipped');
    return {
      scrape_ms_50_models: round(plain.ms, 2),
      scrape_ms_50_models_gzip: round(gzip.ms, 2),
      scrape_eventloop_block_ms_50_models: round(median(blocks.slice(WARM_UP)), 2),
      scrape_eventloop_block_ms_50_models_max: round(Math.max(...blocks.slice(WARM_UP)), 2),
      scrape_lines_50_models: plain.last.body.toString('latin1').split('\n').length - 1,
      scrape_bytes_50_models: plain.last.body.length,
      scrape_bytes_50_models_gzip: gzip.last.body.length,
      otlp_export_ms_50_models: round(await otlpExport(), 2),
    };
  } finally {
    server.kill('SIGKILL');
  }
}
