// /metrics over HTTP, in the formats scrapers ask for: time to the last byte, plain and gzipped, bytes,
// and the longest event-loop block each scrape causes in the scraped process (which runs apart from the
// client); then the OTLP export of the 50-model data. The headline figures are what Prometheus with
// native histograms receives (it asks for the protobuf format first); the text format is measured beside
// them, and the classic mode's text, the exposition before native histograms, as the old baseline.
import { fork } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startMetrics } from '@inferwatch/sdk';
import { SCRAPES, WARM_UP } from './constants.mjs';
import { median, round } from './measure.mjs';
import { fiftyModels } from './scrape-data.mjs';

/** Prometheus 2.42's `Accept` with native histograms on (scrape_native_histograms on 3.x sends the same first choice). */
export const PROMETHEUS_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
export const PROTOBUF = { accept: PROMETHEUS_NATIVE_ACCEPT, 'user-agent': 'Prometheus/2.42.0' };
const TEXT = { accept: 'text/plain;version=0.0.4' };
const GZIP = { 'accept-encoding': 'gzip' };

export function scrape(url, headers) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    request(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ ms: performance.now() - start, body: Buffer.concat(chunks), type: res.headers['content-type'], encoding: res.headers['content-encoding'] }),
      );
    })
      .on('error', reject)
      .end();
  });
}

const SCRAPE_SERVER = fileURLToPath(new URL('./scrape-server.mjs', import.meta.url));

/**
 * A scraped process: `node <script> ...args` (bench/scrape-server.mjs by default), which sends `{ port }` once
 * it serves /metrics there and `{ blocks }` (bench/measured-server.mjs) when sent 'blocks'.
 */
async function scrapedProcess(args, script) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    /** The per-scrape blocks the child recorded since the last call. */
    blocks: () =>
      new Promise((resolve) => {
        child.once('message', ({ blocks }) => resolve(blocks));
        child.send('blocks');
      }),
    stop: () => child.kill('SIGKILL'),
  };
}

/**
 * `scrapes` scrapes, the first `warmUp` dropped: the median time, the last body, and the median and worst
 * of the scraped process's blocks. Fails when the answer is not the format asked for: a silent fallback
 * (text for a protobuf scraper) would measure the wrong thing.
 */
export async function series(server, headers, scrapes = SCRAPES, warmUp = WARM_UP) {
  const times = [];
  let last;
  for (let i = 0; i < scrapes; i++) {
    // Dropped here rather than sliced off after: a group's processes each send their own list.
    if (i === warmUp) await server.blocks();
    last = await scrape(server.url, headers);
    if (i >= warmUp) times.push(last.ms);
    await new Promise((resolve) => setTimeout(resolve, 30)); // let the server record this scrape's block
  }
  const wanted = headers.accept === PROTOBUF.accept ? 'application/vnd.google.protobuf' : 'text/plain';
  if (!last.type?.startsWith(wanted)) throw new Error(`asked for ${wanted}, got ${last.type}`);
  if ((headers['accept-encoding'] === 'gzip') !== (last.encoding === 'gzip')) throw new Error(`gzip asked: ${headers['accept-encoding'] === 'gzip'}, got ${last.encoding}`);
  const blocks = await server.blocks();
  // Lines and series are read from plain answers only.
  const parsed = last.encoding === 'gzip' ? {} : wanted === 'text/plain' ? { lines: lineCount(last.body) } : protobufSeries(last.body);
  return { ms: median(times), bytes: last.body.length, ...parsed, block: median(blocks), blockMax: Math.max(...blocks) };
}

const lineCount = (body) => body.toString('latin1').split('\n').length - 1;

function varint(buf, at) {
  let value = 0;
  for (let shift = 1; ; shift *= 128) {
    const byte = buf[at++];
    value += (byte & 0x7f) * shift;
    if (byte < 0x80) return [value, at];
  }
}

/**
 * Calls `fn(field, start, end, tagAt)` for each length-delimited field of the message in buf[at, end) (its
 * contents from `start`, its tag from `tagAt`); skips the rest.
 */
function lengthFields(buf, at, end, fn) {
  while (at < end) {
    const tagAt = at;
    const [tag, next] = varint(buf, at);
    at = next;
    const wire = tag & 7;
    if (wire === 0) at = varint(buf, at)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const [length, start] = varint(buf, at);
      fn(tag >>> 3, start, start + length, tagAt);
      at = start + length;
    } else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
}

/**
 * In a delimited protobuf exposition: the series (Metric messages; a native histogram is one series, as
 * Prometheus stores it) and the bytes their label pairs take, which every series repeats in full.
 */
function protobufSeries(body) {
  let series = 0;
  let labelBytes = 0;
  for (let at = 0; at < body.length; ) {
    const [length, start] = varint(body, at);
    lengthFields(body, start, start + length, (field, s, e) => {
      if (field !== 4) return; // MetricFamily.metric
      series++;
      lengthFields(body, s, e, (f, ls, le, tagAt) => {
        if (f === 1) labelBytes += le - tagAt; // Metric.label, tag and length included
      });
    });
    at = start + length;
  }
  return { series, labelBytes };
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

/** Runs `fn` against a fresh scraped process for `args` (of `script`), always stopping it. */
export async function withServer(args, fn, script = SCRAPE_SERVER) {
  const server = await scrapedProcess(args, script);
  try {
    return await fn(server);
  } finally {
    server.stop();
  }
}

/** The 50-model data in the default (native) mode: protobuf as Prometheus asks for it, and text. */
export const fiftyNative = (scrapes, warmUp) =>
  withServer(['fifty', 'native'], async (server) => {
    const pb = await series(server, PROTOBUF, scrapes, warmUp);
    const pbGzip = await series(server, { ...PROTOBUF, ...GZIP }, scrapes, warmUp);
    const text = await series(server, TEXT, scrapes, warmUp);
    const textGzip = await series(server, { ...TEXT, ...GZIP }, scrapes, warmUp);
    return {
      scrape_ms_50_models: round(pb.ms, 2),
      scrape_ms_50_models_gzip: round(pbGzip.ms, 2),
      scrape_eventloop_block_ms_50_models: round(pb.block, 2),
      scrape_eventloop_block_ms_50_models_max: round(pb.blockMax, 2),
      scrape_bytes_50_models: pb.bytes,
      scrape_bytes_50_models_gzip: pbGzip.bytes,
      scrape_series_50_models: pb.series,
      scrape_label_bytes_50_models: pb.labelBytes,
      scrape_text_ms_50_models: round(text.ms, 2),
      scrape_text_ms_50_models_gzip: round(textGzip.ms, 2),
      scrape_text_eventloop_block_ms_50_models: round(text.block, 2),
      scrape_text_lines_50_models: text.lines,
      scrape_text_bytes_50_models: text.bytes,
      scrape_text_bytes_50_models_gzip: textGzip.bytes,
    };
  });

/** The same data in classic mode, text: the exposition before native histograms. */
export const fiftyClassic = (scrapes, warmUp) =>
  withServer(['fifty', 'classic'], async (server) => {
    const text = await series(server, TEXT, scrapes, warmUp);
    const textGzip = await series(server, { ...TEXT, ...GZIP }, scrapes, warmUp);
    return {
      scrape_classic_text_ms_50_models: round(text.ms, 2),
      scrape_classic_text_ms_50_models_gzip: round(textGzip.ms, 2),
      scrape_classic_text_eventloop_block_ms_50_models: round(text.block, 2),
      scrape_classic_text_lines_50_models: text.lines,
      scrape_classic_text_bytes_50_models: text.bytes,
      scrape_classic_text_bytes_50_models_gzip: textGzip.bytes,
    };
  });

/** The example gateway's exposition after its requests for one model: bytes only, it is small. */
export const gatewayScrape = (scrapes, warmUp) =>
  withServer(['gateway'], async (server) => {
    const pb = await series(server, PROTOBUF, scrapes, warmUp);
    const text = await series(server, TEXT, scrapes, warmUp);
    return { scrape_bytes_gateway_300_requests: pb.bytes, scrape_series_gateway_300_requests: pb.series, scrape_text_bytes_gateway_300_requests: text.bytes };
  });

/** 100 models × 16 tenants, default options: protobuf as Prometheus asks for it, plain and gzipped, and the text's size. */
export const tenantsScrape = (scrapes, warmUp) =>
  withServer(['tenants'], async (server) => {
    const pb = await series(server, PROTOBUF, scrapes, warmUp);
    const pbGzip = await series(server, { ...PROTOBUF, ...GZIP }, scrapes, warmUp);
    // Tens of megabytes: a few scrapes say its size, which is all it is here for.
    const text = await series(server, TEXT, 2, 1);
    return {
      scrape_ms_100_models_16_tenants: round(pb.ms, 2),
      scrape_ms_100_models_16_tenants_gzip: round(pbGzip.ms, 2),
      scrape_eventloop_block_ms_100_models_16_tenants: round(pb.block, 2),
      scrape_eventloop_block_ms_100_models_16_tenants_max: round(pb.blockMax, 2),
      scrape_bytes_100_models_16_tenants: pb.bytes,
      scrape_bytes_100_models_16_tenants_gzip: pbGzip.bytes,
      scrape_series_100_models_16_tenants: pb.series,
      scrape_label_bytes_100_models_16_tenants: pb.labelBytes,
      scrape_text_bytes_100_models_16_tenants: text.bytes,
    };
  });

export async function scrapeBench() {
  return {
    ...(await fiftyNative()),
    ...(await fiftyClassic()),
    ...(await gatewayScrape()),
    ...(await tenantsScrape()),
    otlp_export_ms_50_models: round(await otlpExport(), 2),
  };
}
